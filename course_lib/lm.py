"""A character language model and its training loop: streams, carried state, clipping, Adam.

Read it top to bottom: :class:`CharLM` (embedding, one recurrent module, a linear read-out),
:func:`evaluate_lm` (the held-out text as streams, state carried), :func:`train_lm` (the
loop, truncated backpropagation through time), then sampling. Explained in book/rnn.md,
sections 5 and 6.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ._book import on_static_site
from .text import Vocabulary, chunks

RECURRENT = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


class CharLM(nn.Module):
    """Characters in, next-character logits out: embedding -> RNN/GRU/LSTM -> linear.

    Explained in book/rnn.md, section 5.
    """

    def __init__(
        self, kind: str, vocab_size: int, hidden_size: int, embed_size: int = 32, num_layers: int = 1
    ):
        super().__init__()
        if kind not in RECURRENT:
            raise ValueError(f"kind must be one of {', '.join(RECURRENT)}, got {kind!r}")
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = RECURRENT[kind](embed_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        """``x`` (B, T) ids -> logits (B, T, V) and the state after the last step."""
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def lm_parameters(kind: str, vocab_size: int, hidden_size: int, embed_size: int) -> int:
    """Parameters of a one-layer :class:`CharLM`: embedding, recurrent weights, read-out."""
    g = GATES[kind]
    return (
        vocab_size * embed_size
        + g * hidden_size * (embed_size + hidden_size + 2)
        + (hidden_size + 1) * vocab_size
    )


def hidden_size_for(kind: str, n_params: int, vocab_size: int, embed_size: int) -> int:
    """The hidden size whose one-layer :class:`CharLM` has closest to ``n_params`` parameters.

    Explained in book/rnn.md, section 5 (comparing RNN, GRU and LSTM at equal size).
    """
    g = GATES[kind]
    a, b = g, g * (embed_size + 2) + vocab_size
    c = vocab_size * embed_size + vocab_size - n_params
    root = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    return min(
        (math.floor(root), math.ceil(root)),
        key=lambda h: abs(lm_parameters(kind, vocab_size, h, embed_size) - n_params),
    )


def detach_state(state):
    """Cut the graph behind a carried state (a tensor, or the LSTM's ``(h, c)``).

    Explained in book/rnn.md, section 3 (truncated backpropagation through time).
    """
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


@torch.no_grad()
def evaluate_lm(model: CharLM, rows: torch.Tensor, seq_len: int = 256) -> float:
    """Mean loss in nats per character over streams ``rows`` (B, N), state carried throughout.

    Explained in book/rnn.md, section 5.
    """
    model.eval()
    state, total, count = None, torch.zeros((), device=rows.device), 0
    for x, y in chunks(rows, seq_len):
        logits, state = model(x, state)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum")
        count += y.numel()
    return total.item() / count


@dataclass
class LMHistory:
    """Training and validation loss (nats per character) of one :func:`train_lm` run."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    chars_per_second: float = 0.0
    seconds: float = 0.0


def train_lm(
    model: CharLM,
    train_rows: torch.Tensor,
    val_rows: torch.Tensor,
    *,
    steps: int,
    seq_len: int,
    lr: float = 3e-3,
    clip: float = 1.0,
    evals: int = 5,
    progress: bool = True,
) -> LMHistory:
    """Truncated BPTT over contiguous streams with Adam and gradient clipping.

    The state is carried from one chunk of each stream to the next and detached, so each
    backward pass covers ``seq_len`` steps; it is reset when the streams start over. The
    learning rate follows a cosine from ``lr`` to ``lr / 10``. Explained in book/rnn.md,
    section 5.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.1 + 0.45 * (1 + math.cos(math.pi * min(s / steps, 1)))
    )
    history, batches, state = LMHistory(), chunks(train_rows, seq_len), None
    bar = tqdm(total=steps, disable=not progress or on_static_site(), desc=model.kind)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        model.train()
        batch = next(batches, None)
        if batch is None:  # the streams start over: so does the state
            batches, state = chunks(train_rows, seq_len), None
            batch = next(batches)
        x, y = batch
        logits, state = model(x, state)
        state = detach_state(state)  # truncated BPTT: no gradient into earlier chunks
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        schedule.step()
        history.steps.append(step)
        history.train_loss.append(loss.item())
        bar.update(1)
        if step % max(steps // evals, 1) == 0 or step == steps:
            history.val_steps.append(step)
            history.val_loss.append(evaluate_lm(model, val_rows))
            bar.set_postfix(val=f"{history.val_loss[-1]:.3f}")
    bar.close()
    history.seconds = time.perf_counter() - start
    history.chars_per_second = steps * train_rows.shape[0] * seq_len / history.seconds
    return history


# --------------------------------------------------------------------------- sampling


def next_ids(logits: torch.Tensor, temperature: float, generator=None) -> torch.Tensor:
    """One id per row of ``logits`` (B, V), drawn from softmax(logits / temperature).

    ``temperature == 0`` means greedy decoding (the most likely id); a negative or
    non-finite temperature is an error. Explained in book/rnn.md, section 6.
    """
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0 (0 means greedy), got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def sample(
    model: CharLM,
    vocab: Vocabulary,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    num_samples: int = 1,
    seed: int = 0,
) -> list[str]:
    """``num_samples`` continuations of ``prompt``, ``length`` characters each.

    A prompt character outside the vocabulary raises ``ValueError`` naming it.
    Explained in book/rnn.md, section 6.
    """
    if not prompt:
        raise ValueError("the prompt must have at least one character, e.g. '\\n'")
    next_ids(torch.zeros(1, 1), temperature)  # validate before any work
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    x = vocab.encode(prompt).to(device).repeat(num_samples, 1)
    logits, state = model(x)
    out = []
    for _ in range(length):
        ids = next_ids(logits[:, -1], temperature, generator)
        out.append(ids)
        logits, state = model(ids[:, None], state)
    columns = torch.stack(out, dim=1).cpu()
    return [vocab.decode(row) for row in columns]


def sampler_widget(model: CharLM, vocab: Vocabulary, length: int = 300, prompt: str = "Romeo:\n"):
    """A live sampler (temperature slider, prompt box), or None on the static site.

    Explained in book/rnn.md, section 6; the static table next to it makes the same point.
    """
    if on_static_site():
        return None
    import ipywidgets as widgets

    temperature = widgets.FloatSlider(value=0.8, min=0.0, max=2.0, step=0.05, description="temperature")
    prompt = widgets.Text(value=prompt, description="prompt")
    # An HTML widget whose value is replaced, not an Output widget that captures prints:
    # no output is routed through the front end while a cell runs.
    shown = widgets.HTML()

    def redraw(_=None):
        try:
            text = prompt.value + sample(model, vocab, prompt.value, length, temperature.value)[0]
        except ValueError as error:
            text = f"ValueError: {error}"
        shown.value = f"<pre>{html.escape(text)}</pre>"

    temperature.observe(redraw, names="value")
    prompt.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([temperature, prompt]), shown])
