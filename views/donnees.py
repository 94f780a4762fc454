"""Données: sign in, edit PTCE with forms, import wizard, history and restore."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.domain.model import Problem
from lib.fr import count, date_time, time_of_day
from lib.io.editing import (
    PROBLEM_COLUMNS,
    FormData,
    delete_ptce,
    form_data,
    import_upload,
    problem_rows,
    restore_version,
    save_form,
)
from lib.io.importer import MAX_BYTES
from lib.store.accounts import (
    ROLE_LABELS,
    ROLES,
    AuthError,
    WriteRefused,
    accounts,
    create_account,
    sign_in,
    user_for_identity,
)
from lib.store.ptce import ConflictError, NotFoundError
from views import (
    client_key,
    current_user,
    forget_session,
    get_store,
    oidc_configured,
    read_only,
    remember_session,
    write_session_cookie,
)

_UPLOAD_TYPES = ["csv", "xlsx", "geojson", "json"]


def render() -> None:
    st.title("Données")
    if read_only():
        # Signing in records attempts and sessions: nothing here can work.
        st.info(
            "Modifier, ajouter, importer ou restaurer des PTCE sera possible dès "
            "que la base sera de nouveau accessible en écriture ; la carte, les "
            "tableaux et les exports restent consultables.",
            icon=":material/lock:",
        )
        return
    write_session_cookie()
    user = current_user()
    if user is None or not user.can_edit:
        _sign_in(user)
        return
    _signed_in(user)
    tabs = st.tabs(["Modifier", "Ajouter", "Importer", "Historique", "Comptes"])
    with tabs[0]:
        _edit(user)
    with tabs[1]:
        _add(user)
    with tabs[2]:
        _import(user)
    with tabs[3]:
        _history(user)
    with tabs[4]:
        _accounts(user)


# -- access ---------------------------------------------------------------------


def _sign_in(user) -> None:
    if user is not None:
        st.warning(
            f"Votre compte ({ROLE_LABELS[user.role]}) permet la lecture seulement."
        )
    st.info(
        "La consultation de l'atlas est libre. Modifier, ajouter ou importer des "
        "PTCE demande un compte éditeur.",
        icon=":material/lock:",
    )
    with st.form("connexion"):
        ident = st.text_input("Identifiant", max_chars=100)
        password = st.text_input("Mot de passe", type="password", max_chars=200)
        if st.form_submit_button("Se connecter"):
            try:
                signed = sign_in(get_store(), ident, password, client=client_key())
            except AuthError as exc:
                st.error(str(exc))
            else:
                remember_session(signed)
                st.rerun()
    if user is not None:
        st.button("Se déconnecter", on_click=_sign_out, key="deconnexion")
    if oidc_configured():
        if getattr(st.user, "is_logged_in", False):
            found = user_for_identity(get_store(), st.user.get("email", ""))
            if found is None:
                st.error(
                    "Aucun compte de l'atlas pour cette adresse : demandez-le à "
                    "un administrateur."
                )
            else:
                remember_session(found)
                st.rerun()
        else:
            st.button(
                "Se connecter avec le compte de l'organisation", on_click=st.login
            )


def _sign_out() -> None:
    forget_session()
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def _signed_in(user) -> None:
    cols = st.columns([4, 1])
    until = (
        f" — session valable jusqu'à {time_of_day(user.expires)}"
        if user.expires
        else ""
    )
    cols[0].caption(f"Connecté : {user.nom} ({ROLE_LABELS[user.role]}){until}.")
    cols[1].button("Se déconnecter", on_click=_sign_out, key="deconnexion")


def _problems(problems: list[Problem]) -> None:
    if len(problems) == 1 and problems[0].ligne is None:
        # A problem of the whole form (say, a change made meanwhile): said
        # in full rather than in a one-row table.
        st.error(f"Rien n'a été enregistré : {problems[0].message}")
        return
    st.error(f"Rien n'a été enregistré : {count(len(problems), 'problème')}.")
    st.dataframe(
        pd.DataFrame(problem_rows(problems), columns=PROBLEM_COLUMNS),
        hide_index=True,
        width="stretch",
    )


def _ids() -> dict[str, str]:
    store = get_store()
    return {p.id: p.nom for p in store.load()}


# -- forms ----------------------------------------------------------------------


def _form(form: FormData, key: str) -> FormData:
    values = {}
    cols = st.columns(2)
    for i, (name, value) in enumerate(form.ptce.items()):
        values[name] = cols[i % 2].text_input(
            name.replace("_", " "), value=value, key=f"{key}_{name}", max_chars=5000
        )
    st.markdown("**Membres**")
    membres = st.data_editor(
        pd.DataFrame(form.membres, columns=["nom", "categorie", "role"]).astype(str),
        num_rows="dynamic",
        key=f"{key}_membres",
        use_container_width=True,
    )
    st.markdown("**Soutiens des collectivités**")
    soutien_columns = [
        "niveau", "collectivite", "type_soutien", "dispositif", "montant",
        "annee_debut", "annee_fin", "phase", "source", "source_url", "note",
        "deduit",  # the reasoning of an inferred support: kept on save
    ]  # fmt: skip
    soutiens = st.data_editor(
        pd.DataFrame(form.soutiens, columns=soutien_columns).astype(str),
        num_rows="dynamic",
        key=f"{key}_soutiens",
        use_container_width=True,
    )
    return FormData(
        values,
        _records(membres),
        _records(soutiens),
        form.version,
    )


def _records(frame: pd.DataFrame) -> list[dict]:
    frame = frame.fillna("").replace({"None": "", "nan": ""})
    return frame.to_dict("records")


def _save(form: FormData, user):
    """Save a form; return the stored PTCE, or None when nothing was written."""
    try:
        plan = save_form(form, get_store(), user)
    except (WriteRefused, ConflictError) as exc:
        st.error(str(exc))
        return None
    if not plan.ok:
        _problems(plan.problems)
        return None
    (record,) = plan.created + plan.updated + plan.unchanged
    if plan.unchanged:
        st.info("Aucune modification à enregistrer.")
    else:
        st.success(f"« {record.nom} » enregistré.")
    return get_store().get(record.id)


def _seen_key(ptce_id: str) -> str:
    return f"donnees_vu_{ptce_id}"


def _forget_seen() -> None:
    # Opening a fiche (again) starts from its latest version.
    for key in [k for k in st.session_state if str(k).startswith("donnees_vu_")]:
        del st.session_state[key]


def _edit(user) -> None:
    names = _ids()
    if not names:
        st.caption("Aucun PTCE dans la base.")
        return
    ptce_id = st.selectbox(
        "PTCE",
        list(names),
        format_func=names.get,
        key="donnees_ptce",
        index=None,
        on_change=_forget_seen,
        placeholder="Choisir un PTCE",
    )
    if not ptce_id:
        return
    # The form shows the PTCE as it was when the editor opened it, and every
    # write states that version: a change made meanwhile by someone else is
    # refused with a message, never overwritten nor silently shown instead.
    live = get_store().get(ptce_id)
    seen = st.session_state.get(_seen_key(ptce_id)) or live
    if seen is None:
        st.warning("Ce PTCE n'existe plus.")
        return
    st.session_state[_seen_key(ptce_id)] = seen
    if live is None or live.version != seen.version:
        st.warning(
            "Ce PTCE a été supprimé par quelqu'un d'autre depuis que vous l'avez "
            "ouvert : rien de ce que vous enregistrerez ne l'écrasera."
            if live is None
            else f"Ce PTCE a été modifié par quelqu'un d'autre (version "
            f"{live.version}) depuis que vous l'avez ouvert (version "
            f"{seen.version}) : vos changements seraient refusés. Rechargez la "
            "fiche pour partir de sa dernière version.",
            icon=":material/sync_problem:",
        )
        st.button(
            "Recharger la fiche",
            key=f"recharger_{ptce_id}",
            on_click=st.session_state.pop,
            args=(_seen_key(ptce_id), None),
        )
    with st.form(f"modifier_{ptce_id}_{seen.version}"):
        form = _form(form_data(seen), f"m_{ptce_id}_{seen.version}")
        if st.form_submit_button("Enregistrer", type="primary"):
            stored = _save(form, user)
            if stored is not None:
                st.session_state[_seen_key(ptce_id)] = stored
    with st.expander("Supprimer ce PTCE", icon=":material/delete:"):
        sure = st.checkbox(
            f"Je confirme la suppression de « {seen.nom} » (l'historique est "
            "conservé et permet de le restaurer).",
            key=f"sur_{ptce_id}",
        )
        if st.button("Supprimer", disabled=not sure, key=f"suppr_{ptce_id}"):
            try:
                delete_ptce(get_store(), ptce_id, seen.version, user)
            except (WriteRefused, ConflictError, NotFoundError) as exc:
                st.error(str(exc))
            else:
                st.session_state.pop(_seen_key(ptce_id), None)
                st.success("PTCE supprimé.")


def _add(user) -> None:
    with st.form("ajouter", clear_on_submit=False):
        form = _form(form_data(None), "nouveau")
        if st.form_submit_button("Créer le PTCE", type="primary"):
            _save(form, user)


# -- import wizard ------------------------------------------------------------------


def _import(user) -> None:
    st.markdown(
        "1. Déposez un ou plusieurs fichiers (CSV, XLSX ou GeoJSON, "
        f"{MAX_BYTES // 1024 // 1024} Mo au plus) ; 2. lisez le rapport ; "
        "3. vérifiez l'aperçu ; 4. appliquez. Une sauvegarde de la base est "
        "faite juste avant."
    )
    uploads = st.file_uploader(
        "Fichiers", type=_UPLOAD_TYPES, accept_multiple_files=True, key="import_files"
    )
    if not uploads:
        return
    files = []
    for upload in uploads:
        if upload.size > MAX_BYTES:
            st.error(f"« {upload.name} » dépasse {MAX_BYTES // 1024 // 1024} Mo.")
            return
        files.append((upload.name, upload.getvalue()))
    store = get_store()
    try:
        plan = import_upload(files, store, user, dry_run=True)
    except WriteRefused as exc:
        st.error(str(exc))
        return
    for warning in plan.warnings:
        st.warning(warning)
    if not plan.ok:
        _problems(plan.problems)
        return
    cols = st.columns(3)
    cols[0].metric("À créer", len(plan.created))
    cols[1].metric("À modifier", len(plan.updated))
    cols[2].metric("Inchangés", len(plan.unchanged))
    preview = [
        {"Action": action, "Identifiant": r.id, "Nom": r.nom}
        for action, records in (
            ("création", plan.created),
            ("modification", plan.updated),
        )
        for r in records
    ]
    if preview:
        st.dataframe(pd.DataFrame(preview), hide_index=True, use_container_width=True)
    if st.button(
        "Appliquer l'import",
        type="primary",
        disabled=not preview,
        key="import_apply",
    ):
        try:
            done = import_upload(files, store, user, dry_run=False)
        except (WriteRefused, ConflictError) as exc:
            st.error(str(exc))
            return
        if done.ok:
            st.success(
                f"Import appliqué : {count(len(done.created), 'PTCE créé')}, "
                f"{count(len(done.updated), 'PTCE modifié')}."
            )
        else:
            _problems(done.problems)


# -- history ------------------------------------------------------------------------


def _history(user) -> None:
    store = get_store()
    ptce_id = st.text_input(
        "Identifiant du PTCE (y compris supprimé)", key="historique_id", max_chars=120
    ).strip()
    if not ptce_id:
        return
    entries = store.history(ptce_id)
    if not entries:
        st.caption("Aucun historique pour cet identifiant.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Version": e["version"],
                    "Action": e["action"],
                    "Le": date_time(e["le"]),
                    "Par": e["par"],
                    "Nom après": (e["apres"] or {}).get("nom", "—"),
                }
                for e in entries
            ]
        ),
        hide_index=True,
        use_container_width=True,
    )
    versions = [e["version"] for e in entries if e["apres"] is not None]
    version = st.selectbox("Version à restaurer", versions, key="historique_version")
    if st.button("Restaurer cette version", key="historique_restaurer"):
        try:
            restored = restore_version(store, ptce_id, version, user)
        except (WriteRefused, NotFoundError, ConflictError) as exc:
            st.error(str(exc))
        else:
            st.success(f"« {restored.nom} » restauré (version {version}).")


# -- accounts -------------------------------------------------------------------------


def _accounts(user) -> None:
    if not user.is_admin:
        st.caption("La gestion des comptes est réservée aux administrateurs.")
        return
    st.dataframe(
        pd.DataFrame(accounts(get_store())),
        hide_index=True,
        use_container_width=True,
    )
    with st.form("nouveau_compte", clear_on_submit=True):
        ident = st.text_input("Identifiant (ou adresse électronique)", max_chars=100)
        nom = st.text_input("Nom", max_chars=200)
        role = st.selectbox("Rôle", ROLES, index=1, format_func=ROLE_LABELS.get)
        password = st.text_input("Mot de passe initial", type="password")
        if st.form_submit_button("Créer le compte"):
            try:
                create_account(get_store(), ident, nom, password, role, user)
            except (ValueError, WriteRefused) as exc:
                st.error(str(exc))
            else:
                st.success(f"Compte « {ident.strip().lower()} » créé.")

