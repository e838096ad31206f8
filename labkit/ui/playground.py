"""The language-model playground: a prompt box, the variant (precision and runtime), temperature and length; the
generated text appears with its prefill and decode tokens per second. Headless runs show it once with fixed
inputs and never wait on it."""

from __future__ import annotations

import html

import ipywidgets as W

from labkit.core.lm import encode
from labkit.techniques.generation import generate


class Playground:
    """`variants` maps a readable name ("ORT int4 (MatMulNBits)") to a backend of labkit.techniques.generation."""

    def __init__(self, variants: dict, tokenizer, prompt: str = "ROMEO:\n", temperature: float = 0.8,
                 n_new: int = 64, seed: int = 0):
        if not variants:
            raise ValueError("no variants to choose from: give at least one backend")
        self.variants, self.tokenizer, self.seed = variants, tokenizer, seed
        self.prompt = W.Textarea(value=prompt, description="prompt", layout=W.Layout(width="520px", height="80px"))
        self.variant = W.Dropdown(options=list(variants), description="variant", layout=W.Layout(width="520px"))
        self.temperature = W.FloatSlider(value=temperature, min=0.0, max=1.5, step=0.05, description="temperature")
        self.n_new = W.IntSlider(value=n_new, min=8, max=256, step=8, description="new tokens")
        self.button = W.Button(description="generate", button_style="primary")
        self.out = W.HTML()
        self.button.on_click(lambda _: self.run())
        self.text = ""

    def run(self) -> str:
        """Generate with the current inputs, show the text and its speed, and return the text."""
        if not self.prompt.value:
            self.out.value = "<i>type a prompt first</i>"
            return ""
        ids = encode(self.tokenizer, self.prompt.value).numpy()[None]
        gen = generate(self.variants[self.variant.value], ids, self.n_new.value, self.temperature.value, self.seed)
        self.text = self.tokenizer.decode(gen.tokens[0].tolist())
        self.out.value = (f"<pre>{html.escape(self.prompt.value)}<b>{html.escape(self.text)}</b></pre>"
                          f"{self.variant.value}: prefill {gen.prefill_tokens_per_s:,.0f} tokens/s "
                          f"({ids.shape[1]} tokens), decode {gen.decode_tokens_per_s:,.0f} tokens/s")
        return self.text

    def widget(self):
        return W.VBox([self.prompt, W.HBox([self.variant]), W.HBox([self.temperature, self.n_new, self.button]),
                       self.out])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())
