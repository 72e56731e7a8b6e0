"""What a recipe is: a name, a one-line description, its source, a typed config and a builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import ValidationError

from contrarec.config import ConfigError, Strict, format_validation_error
from contrarec.data.batches import InteractionBatches, Sampling
from contrarec.data.interactions import Interactions
from contrarec.model import RecallModel


@dataclass(frozen=True)
class Recipe:
    """A named combination of views, encoder, negatives and objective.

    Args:
        name: the CLI name (``two-tower``).
        description: one line for ``contrarec recipes``.
        source: the paper(s) it follows.
        config_class: the recipe's typed ``model`` section.
        build_model: ``(config, train) -> RecallModel``.
        batch_options: ``config -> {"num_negatives": M, "num_uniform": M}`` for the sampler.
        train_defaults: defaults for the ``train`` section (user settings win).
    """

    name: str
    description: str
    source: str
    config_class: type[Strict]
    build_model: Callable[[Any, Interactions], RecallModel]
    batch_options: Callable[[Any], dict] = field(default=lambda cfg: {})
    train_defaults: dict = field(default_factory=dict)

    def parse_config(self, raw: dict) -> Strict:
        """Validate the ``model`` section, naming unknown keys and the valid ones."""
        try:
            return self.config_class.model_validate(raw)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, self.config_class, prefix="model")) from None

    def make_batches(self, config: Any, train: Interactions, batch_size: int, seed: int,
                     sampling: Sampling = "interaction") -> InteractionBatches:
        """The training batch iterator for this recipe (``sampling``: see :mod:`contrarec.data.batches`)."""
        options = self.batch_options(config)
        needs_csr = options.get("num_negatives", 0) > 0
        return InteractionBatches(train.users, train.items, train.num_items, batch_size, seed,
                                  train_csr=train.to_csr() if needs_csr else None,
                                  item_popularity=train.item_popularity(), sampling=sampling, **options)
