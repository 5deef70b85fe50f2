-- A handful of demo users for a local or docker-compose stack. Not used by the tests.
INSERT INTO users (uid, context, goal) VALUES
    ('demo-bakery',  'Family bakery in Lyon, 12 staff, wholesale to cafes.', 'Grow online pre-orders by 30% this year.'),
    ('demo-saas',    'B2B SaaS for dental clinics, 40 customers.',           'Reduce churn below 2% per month.'),
    ('demo-garage',  'Independent car repair garage, two mechanics.',         NULL),
    ('demo-florist', NULL,                                                     'Open a second shop near the station.'),
    ('demo-empty',   NULL,                                                     NULL)
ON CONFLICT (uid) DO NOTHING;
