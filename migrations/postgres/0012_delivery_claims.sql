-- Claiming a batch costs O(batch), not O(post): a post's due recipients in the order they are
-- claimed (the post, then due time, then id), so a claim reads just the rows it leases.
-- A claim moves next_attempt_at to the end of its lease: leased recipients leave the due range
-- of both indexes, and come back by themselves if the lease expires unrecorded.
CREATE INDEX deliveries_post_due ON deliveries (post_id, next_attempt_at, id)
    WHERE status IN ('queued', 'deferred');

-- Leases taken before this migration follow the same rule.
UPDATE deliveries SET next_attempt_at = lease_until
    WHERE status IN ('queued', 'deferred') AND lease_until IS NOT NULL
      AND lease_until > next_attempt_at;
