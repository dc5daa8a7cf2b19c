"""How stages run: the stage tasks, retry policies, circuit breakers, safety scopes, resilience log, events,
UI artifacts, costs and health."""
