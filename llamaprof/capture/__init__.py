"""Captures: llama-server under nsys, driven by a real HTTP workload. Streamlit-free."""
