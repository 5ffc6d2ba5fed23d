"""What is not about licensing: base models, request ids, errors, calendars, validators."""
