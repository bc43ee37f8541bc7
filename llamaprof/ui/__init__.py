"""The Streamlit layer: the only part of llamaprof that imports streamlit."""
