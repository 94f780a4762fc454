"""Domain code of the Atlas des PTCE (no Streamlit imports)."""
