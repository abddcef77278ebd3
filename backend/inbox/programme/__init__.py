"""The inbox's programme pages: running a programme from the browser (staff accounts,
cases and their contact persons, transfers, on-call, working hours and limits, the
audit trail). Thin views over ``backend.administration`` and ``backend.crisis`` services,
asking the same access questions as the API (``backend.administration.access``)."""
