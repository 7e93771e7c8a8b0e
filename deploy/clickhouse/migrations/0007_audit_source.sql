-- The audit records name the source of the data (AuditRecord v2, seed 6.7): whom the citizen asks to correct it.
--
-- Null for the records written before v2, and for rows projected before this column existed until the
-- projector writes them again.

ALTER TABLE {database}_audit.audit_records
    ADD COLUMN source Nullable(String) COMMENT 'where the data comes from: authentic source or declaring actor' AFTER data_type;
