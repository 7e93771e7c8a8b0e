-- The audit records say what a consultation's reply was (AuditRecord v3): GRANTED, REFUSED or NOT_FOUND.
--
-- A consultation that found nothing gave nothing: its kind is CONSULTATION_REFUSED and this column NOT_FOUND
-- (with the legal basis it asked on), so that a count of what institutions received leaves it out. Null for
-- deliveries, withheld deliveries, re-identifications, the records written before v3 (their kind alone tells,
-- and CONSULTATION_GRANTED was then written for NOT_FOUND replies too), and for rows projected before this
-- column existed until the projector writes them again.

ALTER TABLE {database}_audit.audit_records
    ADD COLUMN consultation_status Nullable(String) COMMENT 'status of a consultation reply: GRANTED, REFUSED or NOT_FOUND' AFTER reason;
