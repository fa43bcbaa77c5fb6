"""idim app entry point (placeholder until the explorer pages land)."""
import streamlit as st

st.set_page_config(page_title="idim: intrinsic dimension explorer", layout="wide")
st.title("idim: intrinsic dimension of fine-tuning")
st.write("The explorer is being built. Meanwhile run a sweep from a terminal: `idim run` (see README).")
