"""Repères: the guide for collectivités, linked to the data, and every fait.

Two parts, chosen in the page and kept in the URL (``?partie=chiffres``):
the guide (``lib.analysis.reperes``: definition, origin, charte, reasons, levels,
ways to support, SCIC, national policy, resources), each statement with its
source and the guide's examples linked to their PTCE; and « Chiffres et
sources », every stored fait with its source and date, the disagreements
side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from lib import fr
from lib.analysis import reperes
from lib.analysis.reperes import Desaccord, Entry, Ref
from lib.domain.model import NIVEAU_LABELS, Fait
from views import get_frames, get_store, set_query_params, url_first

_PARAM = "partie"
_PARTS = {"guide": "Le guide", "chiffres": "Chiffres et sources"}
_KEY = "reperes-partie"


def _part_from_url(params: dict[str, list[str]]) -> dict[str, str]:
    wanted = (params.get(_PARAM) or ["guide"])[-1]
    return {_KEY: wanted if wanted in _PARTS else "guide"}


def render() -> None:
    st.title("Repères — collectivités et PTCE")
    st.markdown(
        "Ce que le guide *Points de RepèrESS — Collectivités & PTCE* (RTES et "
        "CRESS Pays de la Loire, mars 2025) dit aux collectivités, relié aux "
        "données de l'atlas : chaque repère cite sa source, chaque exemple "
        "renvoie à la fiche de son PTCE et à la carte."
    )
    url_first(_KEY + "_from_url", _part_from_url)
    partie = st.radio(
        "Partie",
        list(_PARTS),
        key=_KEY,
        format_func=_PARTS.get,
        horizontal=True,
        label_visibility="collapsed",
    )
    set_query_params({_PARAM: None if partie == "guide" else partie}, [_PARAM])
    faits = get_store().faits()
    if partie == "chiffres":
        _chiffres(faits)
    else:
        _guide(faits)


# -- the guide -------------------------------------------------------------------------


def _guide(faits: Sequence[Fait]) -> None:
    frames = get_frames()
    ptce = frames.ptce
    table = frames.soutiens
    # Only the supports of the guide's example collectivités become records:
    # the frame may hold hundreds of thousands of rows.
    wanted = {e.soutien for s in reperes.SECTIONS for e in s.entries if e.soutien}
    keys = list(zip(table["niveau"], table["code"].astype(str), strict=True))
    examples = table[[k in wanted for k in keys]].to_dict("records")
    per_type = table["type"].value_counts().to_dict()
    st.markdown(
        "Aller à : " + " · ".join(f"[{s.titre}](#{s.key})" for s in reperes.SECTIONS)
    )
    for section in reperes.SECTIONS:
        st.subheader(section.titre, anchor=section.key)
        if section.key == "politique":
            _timeline(faits)
            continue
        for entry in section.intro:
            _entry(entry, ptce)
        if section.key == "niveaux":
            _entry(reperes.REGIONS_DE_FRANCE, ptce)
        if line := reperes.data_line(section.key, ptce):
            st.markdown(line)
        numbered = section.key in ("raisons", "soutiens")
        # Reasons, levels, ways and letters read as cards, two by row.
        grid = section.key in ("decomposition", "raisons", "niveaux", "soutiens")
        cells = _cells(len(section.entries)) if grid else None
        for i, entry in enumerate(section.entries, start=1):
            with cells[i - 1] if cells else st.container():
                _entry(entry, ptce, number=i if numbered else None)
                if entry.soutien:
                    _supports(entry, examples)
                if entry.type_soutien:
                    _type_count(entry.type_soutien, per_type.get(entry.type_soutien, 0))


def _cells(n: int) -> list:
    # Bordered cards, two per row, in reading order (row by row).
    cells = []
    for start in range(0, n, 2):
        columns = st.columns(2)
        cells += [c.container(border=True) for c in columns[: min(2, n - start)]]
    return cells


def _entry(entry: Entry, ptce, number: int | None = None) -> None:
    title = f"{number}. {entry.titre}" if number else entry.titre
    if entry.citation:
        body = f"**{title}**\n\n> « {entry.texte} »"
        if entry.exemple and entry.type_soutien:
            body += f"\n\n{entry.exemple}"
    else:
        body = f"**{title}** — {entry.texte}"
    if entry.url and entry.url not in (entry.source.url or ""):
        body += f" [{reperes.bare_url(entry.url)}]({entry.url})"
    if entry.exemple and not entry.type_soutien:
        body += f"\n\n*Exemple* — {entry.exemple}"
        links = [_ptce_links(pid, ptce) for pid in entry.ptce]
        links = [link for link in links if link]
        if links:
            body += " " + " · ".join(links)
    st.markdown(body)
    st.caption(reperes.source_text(entry.source))


def _ptce_links(ptce_id: str, ptce) -> str:
    # The guide's PTCE as stored: nothing to link when a database lacks it.
    if ptce_id not in ptce.index:
        return ""
    row = ptce.loc[ptce_id]
    region = None if fr.is_missing(row["region"]) else row["region"]
    return (
        f"[Fiche de {row['nom']}]({reperes.fiche_url(ptce_id)}) · "
        f"[sur la carte]({reperes.carte_url(row['nom'], region)})"
    )


def _supports(entry: Entry, soutiens: list[dict]) -> None:
    niveau, code = entry.soutien
    first = entry.ptce[0] if entry.ptce else None
    rows = reperes.support_rows(soutiens, niveau, code, first)
    fiche = reperes.territoire_url(niveau, code)
    if not rows:
        st.markdown("*Dans les données* — aucun soutien de cette collectivité.")
        return
    lines = [
        f"*Dans les données* — {rows[0]['collectivite']} "
        f"({NIVEAU_LABELS[niveau]}) : {fr.count(len(rows), 'soutien')}"
        + (f", [fiche territoire]({fiche})" if fiche else "")
    ]
    for r in rows:
        what = r["type"] + (f" — {r['note']}" if r["note"] else "")
        if r["deduit"]:
            what += f" — *déduit* : {r['deduit']}"
        source = reperes.source_text(r["source"])
        lines.append(
            f"- [{r['ptce_nom']}]({reperes.fiche_url(r['ptce_id'])}) : {what} "
            f"({source[0].lower()}{source[1:]})"
        )
    st.markdown("\n".join(lines))


def _type_count(label: str, n: int) -> None:
    link = reperes.soutien_url(label)
    st.markdown(
        f"*Dans les données* — "
        f"{fr.count(n, 'soutien enregistré', 'soutiens enregistrés')} de ce type"
        + (f" ([voir les collectivités]({link}))" if n else "")
    )


def _timeline(faits: Sequence[Fait]) -> None:
    for etape in reperes.timeline(faits):
        step = etape.step
        with st.container(border=True):
            st.markdown(f"##### {step.annees} — {step.titre}\n\n{step.texte}")
            st.caption(reperes.source_text(step.source))
            shown = {id(f) for d in etape.desaccords for f in d.faits}
            lines = [_fait_line(f) for f in etape.faits if id(f) not in shown]
            if lines:
                st.markdown("\n".join(lines))
            for desaccord in etape.desaccords:
                _side_by_side(desaccord)


# -- chiffres et sources ---------------------------------------------------------------


def _chiffres(faits: Sequence[Fait]) -> None:
    st.subheader("Chiffres et sources", anchor="chiffres-et-sources")
    desaccords = reperes.desaccords(faits)
    if not faits:
        st.info("Aucun chiffre n'est enregistré dans la base.")
        return
    st.markdown(
        f"{fr.count(len(faits), 'chiffre enregistré', 'chiffres enregistrés')}, "
        f"chacun avec sa source ; "
        f"{fr.count(len(desaccords), 'désaccord')} entre sources, "
        "montrés côte à côte plutôt que tranchés."
    )
    if desaccords:
        st.markdown("#### Quand les sources divergent")
        for desaccord in desaccords:
            _side_by_side(desaccord)
    st.markdown("#### Tous les chiffres, par sujet")
    for sujet, group in reperes.fait_groups(faits):
        st.markdown(f"**{sujet}**\n\n" + "\n".join(_fait_line(f) for f in group))


def _fait_line(fait: Fait) -> str:
    value = reperes.fait_value(fait)
    when = fr.year(fait.annee, missing="non daté")
    mark = " · *sources en désaccord*" if fait.note else ""
    return (
        f"- {f'**{value}** — ' if value else ''}{fait.libelle} ({when}) · "
        f"{_fait_source(fait)}{mark}"
    )


def _fait_source(fait: Fait) -> str:
    url = fait.source.url or ""
    ok = url.startswith(("http://", "https://"))
    return reperes.source_text(Ref(fait.source.libelle, url=url if ok else None))


def _side_by_side(desaccord: Desaccord) -> None:
    with st.container(border=True):
        sujet = desaccord.sujet[:1].upper() + desaccord.sujet[1:]
        st.markdown(f"**{sujet}** — les sources divergent")
        for column, fait in zip(
            st.columns(len(desaccord.faits)), desaccord.faits, strict=True
        ):
            value = reperes.fait_value(fait)
            when = fr.year(fait.annee, missing="non daté")
            column.markdown(
                (f"**{value}**\n\n" if value else "") + f"{fait.libelle} ({when})"
            )
            column.caption(_fait_source(fait))
        st.caption(desaccord.note)

