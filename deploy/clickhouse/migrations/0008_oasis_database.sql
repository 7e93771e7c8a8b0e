-- The OASIS anti-fraud tables (seed 4.14), in a database of their own: `<database>_oasis`.
--
-- The anti-fraud purpose has a pseudonym space of its own: the same DIMONA events and DmfA lines as the
-- statistics tables, but persons are HMAC-SHA256 pseudonyms under the anti-fraud purpose's key
-- (`Settings.oasis_purpose`, streams/domain/pseudonyms.py). A separate database, not tables beside the
-- statistics: a row here and its twin in `<database>` share their event id and every other column, so anyone
-- reading both could join the two pseudonyms of one person. The statistics' `analyst` cannot read it; the
-- projector inserts into it (streams/stack/templates/clickhouse-roles.xml). `crossroads warehouse oasis` computes
-- the indicators from these tables, and re-identification resolves only pseudonyms of this space that the
-- indicators flagged.
--
-- Same columns, engines and keys as `0002_statistics_facts.sql`, so one SQL (connectors/clickhouse/statistics.py,
-- relations and DmfA in force) reads either database. Kept within ClickHouse 18.16.

CREATE DATABASE IF NOT EXISTS {database}_oasis;

CREATE TABLE IF NOT EXISTS {database}_oasis.dimona_events
(
    event_id        String           COMMENT 'platform ticket of the DIMONA fact',
    kind            String           COMMENT 'IN, OUT, UPDATE or CANCEL',
    employer        String           COMMENT 'enterprise number of the employer',
    worker          String           COMMENT 'pseudonym of the worker under the anti-fraud purpose (never the NISS)',
    relation_start  Date             COMMENT 'start date naming the relation: IN start_date, else relation_start_date',
    start_date      Nullable(Date)   COMMENT 'IN: start_date; UPDATE: new_start_date',
    end_date        Nullable(Date)   COMMENT 'IN: planned_end_date; OUT: end_date; UPDATE: new_end_date',
    worker_type     String           COMMENT 'IN: worker_type; UPDATE: new_worker_type; else empty',
    joint_committee String           COMMENT 'IN: joint_committee; UPDATE: new_joint_committee; else empty',
    event_date      Date             COMMENT 'effective date: IN start, OUT end, UPDATE new start or relation start, CANCEL relation start',
    recorded_at     DateTime         COMMENT 'when the declarant recorded it (UTC)',
    projected_at    DateTime         COMMENT 'when the projector wrote the row (UTC); the replacing version'
)
ENGINE = ReplacingMergeTree(projected_at)
ORDER BY (employer, event_id);

CREATE TABLE IF NOT EXISTS {database}_oasis.dmfa_lines
(
    event_id                    String  COMMENT 'ticket of the declaration, colon, line number',
    declaration                 String  COMMENT 'platform ticket of the DmfA declaration',
    employer                    String  COMMENT 'enterprise number of the employer',
    quarter                     String  COMMENT 'YYYY-Qn',
    quarter_start               Date    COMMENT 'first day of the quarter',
    version                     UInt32  COMMENT 'declaration version: the highest one of an employer and quarter is in force',
    nature                      String  COMMENT 'ORIGINAL or CORRECTION',
    line_no                     UInt32  COMMENT 'position of the worker line in the declaration',
    worker                      String  COMMENT 'pseudonym of the worker under the anti-fraud purpose (never the NISS)',
    worker_category             String  COMMENT 'BLUE_COLLAR, WHITE_COLLAR, ...',
    joint_committee             String  COMMENT 'joint committee of the line',
    days_worked                 UInt32  COMMENT 'days worked in the quarter',
    gross_wage_cents            Int64   COMMENT 'gross wage of the quarter, in cents',
    sickness_days               UInt32  COMMENT 'assimilated days: SICKNESS',
    accident_days               UInt32  COMMENT 'assimilated days: WORK_ACCIDENT + OCCUPATIONAL_DISEASE',
    temporary_unemployment_days UInt32  COMMENT 'assimilated days: TEMPORARY_UNEMPLOYMENT',
    other_assimilated_days      UInt32  COMMENT 'every other assimilated day',
    recorded_at                 DateTime COMMENT 'when the declarant recorded it (UTC)',
    projected_at                DateTime COMMENT 'when the projector wrote the row (UTC); the replacing version'
)
ENGINE = ReplacingMergeTree(projected_at)
ORDER BY (employer, quarter, event_id);

-- Work tables of `crossroads warehouse retention` for the OASIS tables and the mapping, beside what they select:
-- keys of one purpose's space never sit in another's database (`<database>.retention_keys`, which the analyst
-- reads, holds statistics pseudonyms only), so a retention run links no two pseudonyms of one person.

CREATE TABLE IF NOT EXISTS {database}_oasis.retention_keys
(
    run        String   COMMENT 'id of the retention run',
    scope      String   COMMENT 'what the key selects: relation',
    key        String   COMMENT 'the key of the rows to delete (anti-fraud pseudonyms and codes)',
    decided_at DateTime COMMENT 'when the run decided it'
)
ENGINE = MergeTree
ORDER BY (run, scope, key);

CREATE TABLE IF NOT EXISTS {database}_reid.retention_keys
(
    run        String   COMMENT 'id of the retention run',
    scope      String   COMMENT 'what the key selects: deceased',
    key        String   COMMENT 'the NISS or BIS number whose mapping, in every purpose, is deleted',
    decided_at DateTime COMMENT 'when the run decided it'
)
ENGINE = MergeTree
ORDER BY (run, scope, key);
