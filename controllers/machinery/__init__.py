"""What every controller shares: settings, conditions, events, metrics, Kubernetes clients."""
