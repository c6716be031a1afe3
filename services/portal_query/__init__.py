"""The read side: per-company projections of tickets for the portal and for teammates."""
