"""What every controller shares: kopf settings, conditions, events, metrics."""
