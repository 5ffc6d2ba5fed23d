from django.db import models


class DelayLevel(models.TextChoices):
    """How late a wait is, ordered from least to most urgent (the order is the ranking)."""

    NONE = "none", "none"
    WARNING = "warning", "warning"
    CRITICAL = "critical", "critical"
    OVERDUE = "overdue", "overdue"


DELAY_LEVEL_RANK = {level: rank for rank, level in enumerate(DelayLevel.values)}
