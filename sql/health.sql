-- Customer health (src/health.c, src/health.sql): the weighted mean with missing measures, the bands
-- and risk levels at their edges, the trend, the measures from their inputs, and bad input.
SET client_min_messages = warning;

-- the weighted mean: a measure without data is left out and its weight spread over the others
SELECT label, measures, weights, crm.health_score(measures, weights) AS score
FROM (VALUES
    ('all four',                   ARRAY[80, 60, 90, 70]::float8[],       ARRAY[30, 20, 30, 20]::float8[]),
    ('satisfaction missing',       ARRAY[80, 60, NULL, 70]::float8[],     ARRAY[30, 20, 30, 20]::float8[]),
    ('only satisfaction',          ARRAY[NULL, NULL, 40, NULL]::float8[], ARRAY[30, 20, 30, 20]::float8[]),
    ('missing is not zero',        ARRAY[100, NULL, NULL, NULL]::float8[], ARRAY[30, 20, 30, 20]::float8[]),
    ('no data at all',             ARRAY[NULL, NULL, NULL, NULL]::float8[], ARRAY[30, 20, 30, 20]::float8[]),
    ('only a measure weighing 0',  ARRAY[50, NULL, NULL, NULL]::float8[], ARRAY[0, 20, 30, 20]::float8[]),
    ('half rounds up',             ARRAY[75, 74, NULL, NULL]::float8[],   ARRAY[1, 1, 0, 0]::float8[]),
    ('the extremes',               ARRAY[0, 100, 0, 100]::float8[],       ARRAY[1, 1, 1, 1]::float8[])
) v(label, measures, weights);

-- bands and risk levels at every edge
SELECT s AS score, crm.health_band(s) AS band, crm.health_risk_level(s) AS risk_level
FROM unnest(ARRAY[100, 75, 74, 50, 49, 25, 24, 0, NULL]) s;

-- the trend against the previous snapshot (more than 3 points)
SELECT score, previous, crm.health_trend(score, previous) AS trend
FROM (VALUES (80, 77), (81, 77), (74, 77), (73, 77), (80, NULL), (NULL, 80)) v(score, previous);

-- measures from inputs: any activity (0 = none), 30 d, 90 d, days since the last, positive, negative, rated,
-- open opportunities, CSAT, NPS, cases, open cases, overdue cases, closed deals, won 180 d, won the
-- 180 d before, lost 180 d
CREATE TEMP TABLE examples (n, label, inputs) AS
SELECT row_number() OVER (), label, inputs FROM (VALUES
    ('a new account, nothing yet',       ARRAY[0, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0]::float8[]),
    ('busy and happy',                   ARRAY[40, 6, 12, 1, 5, 0, 5, 2, 4.8, 9.5, 3, 0, 0, 4, 90000, 60000, 0]::float8[]),
    ('quiet for 60 days',                ARRAY[10, 0, 1, 60, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0]::float8[]),
    ('cases only, two of them overdue',  ARRAY[0, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL, 4, 3, 2, 0, 0, 0, 0]::float8[]),
    ('a detractor',                      ARRAY[0, 0, 0, NULL, 0, 0, 0, 0, NULL, 3, 0, 0, 0, 0, 0, 0, 0]::float8[]),
    ('revenue halved, a deal lost',      ARRAY[5, 1, 2, 10, 0, 1, 1, 1, NULL, NULL, 0, 0, 0, 3, 30000, 60000, 1]::float8[]),
    ('first win',                        ARRAY[5, 1, 2, 10, 1, 0, 1, 0, NULL, NULL, 0, 0, 0, 1, 10000, 0, 0]::float8[])
) v(label, inputs);
SELECT label, crm.health_measures(inputs) AS "engagement, activity, satisfaction, commercial"
FROM examples ORDER BY n;

-- the same accounts, scored with the default weights, banded, with advice
SELECT label, crm.health_score(crm.health_measures(inputs), ARRAY[30, 20, 30, 20]) AS score,
       crm.health_band(crm.health_score(crm.health_measures(inputs), ARRAY[30, 20, 30, 20])) AS band,
       crm.health_recommendations(inputs, crm.health_measures(inputs)) AS recommendations
FROM examples ORDER BY n;

-- the factors of one of them, and for every one the same document as the jsonb_build_object calls it
-- replaces, to the character (values through their text form: 0.1 + 0.2 stays 0.30000000000000004; CSAT
-- and NPS rounded to 2 decimals, 9.5 shown 9.50)
SELECT jsonb_pretty(crm.health_factors(inputs, crm.health_measures(inputs), ARRAY[30, 20, 30, 20])) AS factors
FROM examples WHERE label = 'busy and happy';
INSERT INTO examples VALUES (8, 'odd figures', ARRAY[3, 0.1 + 0.2, 2.0 / 3, 44.999, 0, 0, 0, 1e15, 2.345, 7.0 / 3, 1, 1, 0, 0, 1e-7, 123456.789, 0]),
    (9, 'every warning', ARRAY[2, 0, 0, 400.5, 0, 0, 0, 0, 1.25, 6.95, 9, 7, 1, 5, 100, 200.5, 3]),
    (10, 'two overdue, a NULL here and there', ARRAY[NULL, 0, 0, 30, 0, 0, 0, NULL, NULL, 6.94999, 2, 2, 2, NULL, 0, 0, 2]),
    -- cents made without text where that is the same number; half cents of CSAT and NPS as numeric rounds them
    (11, 'cents and half cents', ARRAY[1, 0.29, 93.81, 12.5, 0, 0, 0, 99999999999.99, 2.675, 1.005, 0, 0.07, 0, 1, -0.07, 123456789012.01, 1e12 + 0.5]),
    (12, 'more half cents', ARRAY[1, 0, 0, 0, 0, 0, 0, 0, 4.995, 0.125, 0, 0, 0, 0, 1.1, 2.2, 3.3]);
SELECT n, crm.health_factors(inputs, m, w)::text = jsonb_build_object(
           'engagement', jsonb_build_object('value', m[1], 'weight', CASE WHEN m[1] IS NULL THEN 0 ELSE w[1] END),
           'activity', jsonb_build_object('value', m[2], 'weight', CASE WHEN m[2] IS NULL THEN 0 ELSE w[2] END),
           'satisfaction', jsonb_build_object('value', m[3], 'weight', CASE WHEN m[3] IS NULL THEN 0 ELSE w[3] END),
           'commercial', jsonb_build_object('value', m[4], 'weight', CASE WHEN m[4] IS NULL THEN 0 ELSE w[4] END),
           'inputs', jsonb_build_object('activities_30d', inputs[2], 'activities_90d', inputs[3],
                                        'days_since_last_activity', floor(inputs[4]), 'open_opportunities', inputs[8],
                                        'csat', round(inputs[9]::numeric, 2), 'nps', round(inputs[10]::numeric, 2),
                                        'open_cases', inputs[12], 'overdue_cases', inputs[13],
                                        'won_last_180d', inputs[15], 'won_previous_180d', inputs[16], 'lost_last_180d', inputs[17]))::text
       AS same_document
FROM examples, LATERAL (SELECT crm.health_measures(inputs) AS m, ARRAY[30, 20.5, 30, 1.0 / 3]::float8[] AS w) x
ORDER BY n;

-- and the advice, to the character the same as the SQL expression it replaces
SELECT n, crm.health_recommendations(inputs, m) = array_remove(ARRAY[
        CASE WHEN inputs[1] = 0 THEN 'no activity recorded: schedule a first call'
                 WHEN inputs[4] >= 30 THEN format('no contact in %s days: schedule a check-in', floor(inputs[4])) END,
        CASE WHEN inputs[13] > 0 THEN format('%s overdue case%s: escalate', inputs[13], CASE WHEN inputs[13] > 1 THEN 's' END) END,
        CASE WHEN inputs[12] >= 3 THEN format('%s open cases: review the account''s support', inputs[12]) END,
        CASE WHEN inputs[10] < 7 THEN format('NPS of %s (a detractor): call the contact', round(inputs[10]::numeric, 1)) END,
        CASE WHEN inputs[9] < 3 THEN format('low case satisfaction (%s of 5): review the handling', round(inputs[9]::numeric, 1)) END,
        CASE WHEN inputs[16] > 0 AND inputs[15] < inputs[16] THEN 'won revenue is declining: plan a business review' END,
        CASE WHEN inputs[17] >= 2 THEN format('%s deals lost lately: ask why', inputs[17]) END,
        CASE WHEN inputs[8] = 0 AND inputs[14] > 0 THEN 'no open opportunity: look for an expansion' END], NULL) AS same_advice
FROM examples, LATERAL (SELECT crm.health_measures(inputs) AS m) x
ORDER BY n;
SELECT n, unnest(crm.health_recommendations(inputs, NULL)) AS advice FROM examples WHERE n IN (9, 10) ORDER BY n;
SELECT crm.health_recommendations(NULL, NULL) AS without_inputs;

-- bad input: 22023
CREATE FUNCTION pg_temp.try(f text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE f;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT f AS call, pg_temp.try(f) AS result FROM (VALUES
    ('SELECT crm.health_score(ARRAY[101, 50]::float8[], ARRAY[1, 1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[-1, 50]::float8[], ARRAY[1, 1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[50, 50]::float8[], ARRAY[1, -1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[50, 50]::float8[], ARRAY[1, NULL]::float8[])'),
    ('SELECT crm.health_score(ARRAY[50, 50]::float8[], ARRAY[1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[[50], [50]]::float8[], ARRAY[1, 1]::float8[])'),
    ('SELECT crm.health_measures(ARRAY[1, 2, 3]::float8[])'),
    ('SELECT crm.health_factors(ARRAY[1, 2, 3]::float8[], ARRAY[1, 2, 3, 4]::float8[], ARRAY[1, 2, 3, 4]::float8[])'),
    ('SELECT crm.health_recommendations(ARRAY[1, 2, 3]::float8[], NULL)'),
    ('SELECT crm.health_score(NULL, ARRAY[1]::float8[]) IS NULL'),
    ('SELECT crm.tenant_settings(''{"health_weights": {"engagement": -1}}'')'),
    ('SELECT crm.tenant_settings(''{"health_weights": {"loyalty": 10}}'')'),
    ('SELECT crm.tenant_settings(''{"health_weights": {"engagement": 0}}'')'),
    ('SELECT crm.refresh_health_scores(''2999-01-01'')')
) v(f);

