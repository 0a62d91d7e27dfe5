-- The archive at 100,000 messages in one list. A month page groups the month's messages by
-- conversation from this index alone (without it every row, bytes included, is read).
CREATE INDEX archive_messages_month_thread ON archive_messages (group_id, month, thread_id, at);
-- A search filters a list's messages by date, author and subject and groups them by
-- conversation from this index alone, never reading the stored bytes.
CREATE INDEX archive_messages_filter ON archive_messages (group_id, at, thread_id, subject, author_name, author_email);
