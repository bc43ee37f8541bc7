"""Analyses over runs: summaries, comparison, llama.cpp knowledge. Streamlit-free."""
