"""Item banks: formats, import/export, validation, calibration jobs, item stats."""
