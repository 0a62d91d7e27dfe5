-- The hourly clean-up forgets sign-in requests older than a day: by time, not by address.
CREATE INDEX signin_requests_at ON signin_requests (at);
