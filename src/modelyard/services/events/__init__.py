"""Event history, rules, routing and the delivery queue."""
