"""Progress bars that survive a save: `tqdm` is tqdm.auto's bar (a live widget in a notebook, text elsewhere), but a
finished notebook bar replaces its widget with its final text line (a bar with `leave=False` with nothing). A saved
notebook then holds text, not a widget whose model is gone when it is reopened ("Error displaying widget: model not
found")."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm as _auto


def _in_notebook() -> bool:
    notebook = sys.modules.get("tqdm.notebook")
    return notebook is not None and issubclass(_auto, notebook.tqdm_notebook)


class _TextWhenDone(_auto):
    """tqdm.notebook's bar, displayed through a display handle; on close the handle shows text instead."""

    def __init__(self, *args, **kwargs):
        from IPython.display import display

        kwargs.pop("delay", None)  # shown at once: the handle below must exist before the first update
        super().__init__(*args, display=False, **kwargs)
        self._handle = None if self.disable else display(self.container, display_id=True)
        self.displayed = True

    def close(self):
        if self.disable:
            return
        broken = bool(self.total and self.n < self.total)  # stopped early (an error or an interrupt)
        super().close()
        if self._handle is not None:
            text = self.format_meter(**self.format_dict) if self.leave or broken else ""
            self._handle.update({"text/plain": text}, raw=True)
            self.container.close()  # the widget model is no longer shown anywhere


tqdm = _TextWhenDone if _in_notebook() else _auto
