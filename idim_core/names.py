"""Names shared by the engine and the UI (importing this pulls in nothing heavy)."""

PROJECTIONS = ("fastfood", "sparse", "dense")
METHODS = ("did", "said")
