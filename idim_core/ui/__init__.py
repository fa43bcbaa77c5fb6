"""Helpers the Streamlit pages share, by concern (nothing here imports torch or streamlit):

- ``workers``: the store for this session's thread, the background worker, the device;
- ``estimates``: time estimates and the time left, grids of d;
- ``views``: how a run reads (labels, the runs table, d90 sentences, exports, the papers' figures);
- ``figures``: the Plotly figures (also the CLI's HTML export);
- ``forms``: the new-run form's helpers (pre-queue check, uploads, CSV preview).

Each page imports what it draws.  ``from idim_core import ui`` and ``ui.NAME`` keep working.
"""
from .estimates import *  # noqa: F401,F403
from .figures import *  # noqa: F401,F403
from .forms import *  # noqa: F401,F403
from .views import *  # noqa: F401,F403
from .workers import *  # noqa: F401,F403
