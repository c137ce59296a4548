-- budget_sheet is an external table over the planners' spreadsheet.
SELECT
  campaign_id,
  channel,
  PARSE_DATE('%Y-%m-%d', day) AS budget_date,
  CAST(budget_usd AS NUMERIC) AS budget_usd
FROM `sample-project.landing.budget_sheet`
WHERE campaign_id IS NOT NULL
