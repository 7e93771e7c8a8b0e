-- The statistics database: pseudonymised fact tables (docs/warehouse.md, docs/analysts.md).
--
-- No national number is ever written here: persons are HMAC-SHA256 pseudonyms (64 hex characters) under the
-- key of the warehouse's purpose (streams/domain/pseudonyms.py). Employers (enterprise numbers) are not
-- personal data and stay as they are.
--
-- Every table is a ReplacingMergeTree whose sorting key ends with the event id (the platform ticket, plus
-- the line number for DmfA lines): a fact projected twice (the projector crashed between its insert and its
-- offset commit) is the same row twice until parts merge. The statistics never rely on merges: they
-- aggregate with FINAL, argMax or uniqExact so that a replayed row never counts twice.
-- Kept within ClickHouse 18.16: no TTL, no LowCardinality, no codecs. Its Date starts on 1970-01-01, so
-- the projection stores earlier dates as 1970-01-01 (docs/warehouse.md) and birth dates as integers.

CREATE TABLE IF NOT EXISTS {database}.dimona_events
(
    event_id        String           COMMENT 'platform ticket of the DIMONA fact',
    kind            String           COMMENT 'IN, OUT, UPDATE or CANCEL',
    employer        String           COMMENT 'enterprise number of the employer',
    worker          String           COMMENT 'pseudonym of the worker (never the NISS)',
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

CREATE TABLE IF NOT EXISTS {database}.dmfa_lines
(
    event_id                    String  COMMENT 'ticket of the declaration, colon, line number',
    declaration                 String  COMMENT 'platform ticket of the DmfA declaration',
    employer                    String  COMMENT 'enterprise number of the employer',
    quarter                     String  COMMENT 'YYYY-Qn',
    quarter_start               Date    COMMENT 'first day of the quarter',
    version                     UInt32  COMMENT 'declaration version: the highest one of an employer and quarter is in force',
    nature                      String  COMMENT 'ORIGINAL or CORRECTION',
    line_no                     UInt32  COMMENT 'position of the worker line in the declaration',
    worker                      String  COMMENT 'pseudonym of the worker (never the NISS)',
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

CREATE TABLE IF NOT EXISTS {database}.civil_events
(
    event_id         String         COMMENT 'platform ticket of the civil fact',
    kind             String         COMMENT 'BIRTH, ADDRESS, CIVIL_STATUS or DEATH',
    person           String         COMMENT 'pseudonym of the person concerned (the child for a birth)',
    sex              String         COMMENT 'M, F, or empty when the number does not tell',
    birth_year       UInt16         COMMENT 'birth year (from the birth fact, else read from the number); 0 unknown',
    birth_month_day  UInt16         COMMENT 'birth month * 100 + day; 0 unknown (a Date cannot hold births before 1970)',
    effective_date   Date           COMMENT 'birth date, move date, status date or date of death',
    municipality_nis String         COMMENT 'NIS code of the residence from this date (BIRTH, ADDRESS); empty: abroad/unknown',
    civil_status     String         COMMENT 'CIVIL_STATUS only',
    recorded_at      DateTime       COMMENT 'when the National Register recorded it (UTC)',
    projected_at     DateTime       COMMENT 'when the projector wrote the row (UTC); the replacing version'
)
ENGINE = ReplacingMergeTree(projected_at)
ORDER BY (person, event_id);

CREATE TABLE IF NOT EXISTS {database}.directory_entries
(
    event_id     String         COMMENT 'platform ticket of the integration fact',
    action       String         COMMENT 'REGISTER or UNREGISTER',
    person       String         COMMENT 'pseudonym of the person (never the NISS)',
    institution  String         COMMENT 'enterprise number of the institution holding the file',
    sector       String         COMMENT 'sector code, e.g. UNEMPLOYMENT',
    capacity     String         COMMENT 'capacity code within the sector, e.g. BENEFICIARY',
    period_start Date           COMMENT 'first day of the file',
    period_end   Nullable(Date) COMMENT 'last day of the file, NULL while open',
    status       String         COMMENT 'PROVISIONAL or DEFINITIVE',
    recorded_at  DateTime       COMMENT 'when the institution recorded it (UTC)',
    projected_at DateTime       COMMENT 'when the projector wrote the row (UTC); the replacing version'
)
ENGINE = ReplacingMergeTree(projected_at)
ORDER BY (person, event_id);
