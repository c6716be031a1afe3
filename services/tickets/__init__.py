"""The tickets service: owns tickets and their company association."""
