"""Image captioning at course scale: a small CNN reads a digit, a GRU writes its English name.

The encoder's features become the decoder's first hidden state; the decoder is trained with
teacher forcing (it reads the true previous character) and tested greedily (it reads its
own). Explained in book/rnn.md, section 8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
START, END, PAD = "^", "$", "_"
SYMBOLS = (PAD, START, END, *sorted(set("".join(NAMES))))
INDEX = {s: i for i, s in enumerate(SYMBOLS)}
MAX_LEN = max(len(n) for n in NAMES) + 1  # the longest name and its end mark


def caption_targets(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing pairs for digit labels: inputs "^seven", targets "seven$", padded.

    Explained in book/rnn.md, section 8.
    """
    rows_in, rows_out = [], []
    for label in labels.tolist():
        name = NAMES[label]
        padding = PAD * (MAX_LEN - len(name) - 1)
        rows_in.append([INDEX[s] for s in START + name + padding])
        rows_out.append([INDEX[s] for s in name + END + padding])
    device = labels.device
    return torch.tensor(rows_in, device=device), torch.tensor(rows_out, device=device)


def symbols_to_text(ids) -> str:
    """A row of symbol ids back to a string, padding included (shown as ``_``)."""
    return "".join(SYMBOLS[i] for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids))


def digit_encoder(features: int) -> nn.Sequential:
    """A small CNN: (N, 1, 28, 28) images -> (N, features)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, features),
        nn.ReLU(),
    )


class DigitCaptioner(nn.Module):
    """CNN encoder -> first hidden state of a GRU decoder over characters.

    Explained in book/rnn.md, section 8.
    """

    def __init__(self, features: int = 64, hidden_size: int = 64):
        super().__init__()
        self.encoder = digit_encoder(features)
        self.to_state = nn.Linear(features, hidden_size)
        self.embed = nn.Embedding(len(SYMBOLS), 16)
        self.decoder = nn.GRU(16, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, len(SYMBOLS))

    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits (N, T, symbols) for the next character after each input."""
        state = self.to_state(self.encoder(images))[None]
        out, _ = self.decoder(self.embed(inputs), state)
        return self.head(out)

    @torch.no_grad()
    def caption(self, images: torch.Tensor) -> list[str]:
        """Greedy decoding: each step reads the character the decoder itself chose."""
        self.eval()
        state = self.to_state(self.encoder(images))[None]
        ids = torch.full((len(images), 1), INDEX[START], device=images.device)
        written = []
        for _ in range(MAX_LEN):
            out, state = self.decoder(self.embed(ids), state)
            ids = self.head(out).argmax(-1)
            written.append(ids[:, 0])
        rows = torch.stack(written, 1).tolist()
        return ["".join(SYMBOLS[i] for i in row).split(END)[0] for row in rows]


def train_captioner(
    model: DigitCaptioner,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float = 5e-3,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Teacher forcing with Adam; the padding after the end mark is not scored.

    Returns the mean loss of every epoch. Explained in book/rnn.md, section 8.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    inputs, targets = caption_targets(labels)
    losses = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator).to(images.device)
        total = 0.0
        for start in range(0, len(images), batch_size):
            idx = order[start : start + batch_size]
            logits = model(images[idx], inputs[idx])
            loss = F.cross_entropy(logits.flatten(0, 1), targets[idx].flatten(), ignore_index=INDEX[PAD])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(images))
    return losses
