using Npgsql;

namespace CrewPlatform.Deploy.Tests;

/// <summary>What each service's PostgreSQL role may do once deploy/postgres/provision.sh has run and each service migrated.</summary>
public sealed class PostgresRolesTests(ProvisionedDatabase db) : IClassFixture<ProvisionedDatabase>
{
    private const string Scheduler = "SCHEDULER";
    private const string CrewCaller = "CREW_CALLER";
    private const string ResponseStore = "RESPONSE_STORE";

    /// <summary>
    /// INSERT ... SELECT of no row into the table's first column a client may write (not a generated one): needs the
    /// INSERT privilege whatever the table's columns.
    /// </summary>
    private async Task<string> InsertNothingAsync(string table)
    {
        var column = await db.ScalarAsync<string>(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema || '.' || table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position LIMIT 1",
            table);
        return $"INSERT INTO {table} ({column}) SELECT {column} FROM {table} WHERE false";
    }

    [Fact]
    public async Task Each_service_migrated_its_own_schema_as_its_own_role()
    {
        foreach (var (service, schema) in ProvisionedDatabase.Schemas)
        {
            var owners = await db.ScalarAsync<string>(
                "SELECT string_agg(DISTINCT tableowner::text, ',') FROM pg_tables WHERE schemaname = $1", schema);
            Assert.Equal(db.Role(service), owners);
            Assert.Equal(db.Role(service), await db.ScalarAsync<string>("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema));
        }

        Assert.Equal(db.Role(ResponseStore), await db.ScalarAsync<string>("SELECT tableowner FROM pg_tables WHERE tablename = 'crew_responses'"));
    }

    [Theory]
    [InlineData(Scheduler, "scheduler.runs")]
    [InlineData(Scheduler, "scheduler.run_users")]
    [InlineData(CrewCaller, "crew_caller.crew_calls")]
    [InlineData(ResponseStore, "public.crew_responses")]
    public async Task A_service_writes_its_own_tables(string service, string table)
    {
        await db.AsServiceAsync(service, await InsertNothingAsync(table));
        await db.AsServiceAsync(service, $"DELETE FROM {table} WHERE false");
    }

    [Fact]
    public async Task The_response_store_stores_an_answer_for_a_user_of_the_host_application()
    {
        await db.AddUsersAsync([("pg-roles-user", "context", "goal")]);

        var id = await db.AsServiceAsync(ResponseStore,
            "INSERT INTO crew_responses (user_uid, response_data, run_id) VALUES ('pg-roles-user', '{}', gen_random_uuid()) RETURNING id");

        Assert.NotNull(id);
    }

    [Theory]
    [InlineData(CrewCaller, "scheduler.runs")]
    [InlineData(ResponseStore, "scheduler.run_users")]
    [InlineData(Scheduler, "crew_caller.crew_calls")]
    [InlineData(ResponseStore, "crew_caller.crew_calls")]
    [InlineData(Scheduler, "public.crew_responses")]
    [InlineData(CrewCaller, "public.crew_responses")]
    [InlineData(Scheduler, "public.users")]
    [InlineData(ResponseStore, "public.users")]
    public async Task A_service_cannot_write_another_services_tables_or_the_host_applications(string service, string table)
    {
        await AssertDeniedAsync(service, await InsertNothingAsync(table));
        await AssertDeniedAsync(service, $"DELETE FROM {table} WHERE false");
    }

    [Fact]
    public async Task The_scheduler_and_the_response_store_read_users_and_the_crew_caller_does_not()
    {
        await db.AddUsersAsync([("pg-roles-reader", null, "goal")]);

        Assert.Equal(1L, await db.AsServiceAsync(Scheduler, "SELECT count(*) FROM users WHERE uid = 'pg-roles-reader'"));
        Assert.Equal(1L, await db.AsServiceAsync(ResponseStore, "SELECT count(*) FROM users WHERE uid = 'pg-roles-reader'"));
        await AssertDeniedAsync(CrewCaller, "SELECT count(*) FROM users");
    }

    [Theory]
    [InlineData(Scheduler, "CREATE SCHEMA intruder")]
    [InlineData(CrewCaller, "CREATE TABLE public.intruder (id int)")]
    [InlineData(Scheduler, "CREATE TABLE public.intruder (id int)")]
    [InlineData(CrewCaller, "CREATE TABLE scheduler.intruder (id int)")]
    [InlineData(ResponseStore, "CREATE TABLE crew_caller.intruder (id int)")]
    [InlineData(CrewCaller, "DROP TABLE scheduler.runs")]
    [InlineData(Scheduler, "ALTER TABLE public.crew_responses ADD COLUMN intruder int")]
    public async Task A_service_creates_or_changes_nothing_outside_its_own_schema(string service, string sql) =>
        await AssertDeniedAsync(service, sql);

    private const string Webhooks = "WEBHOOKS";

    private const string AuditRow =
        "INSERT INTO audit.entries (actor, client_address, service, action, target, fields) VALUES ('pg-roles', '192.0.2.1', 'test', 'schedule.stop', 'schedule:1', '{}')";

    [Theory]
    [InlineData(Scheduler)]
    [InlineData(Webhooks)]
    [InlineData(ResponseStore)]
    public async Task A_service_appends_to_the_audit_trail_and_cannot_change_delete_backdate_or_drop_a_row(string service)
    {
        await db.AsServiceAsync(service, AuditRow);

        await AssertDeniedAsync(service, "UPDATE audit.entries SET actor = 'someone else'");
        await AssertDeniedAsync(service, "DELETE FROM audit.entries");
        await AssertDeniedAsync(service, "TRUNCATE audit.entries");
        await AssertDeniedAsync(service,
            "INSERT INTO audit.entries (at, service, action, target) VALUES (now() - interval '10 years', 'test', 'schedule.stop', 'schedule:1')");
        await AssertDeniedAsync(service, "ALTER TABLE audit.entries DISABLE TRIGGER ALL");
        await AssertDeniedAsync(service, "DROP TABLE audit.entries");
        await AssertDeniedAsync(service,
            "CREATE OR REPLACE FUNCTION audit.delete_expired(retain_days integer, batch integer) RETURNS integer LANGUAGE sql AS 'SELECT 0'");
        Assert.True(await db.ScalarAsync<long>("SELECT count(*) FROM audit.entries WHERE actor = 'pg-roles'") >= 1);
    }

    [Fact]
    public async Task Only_the_scheduler_reads_the_audit_trail_and_its_retention_keeps_the_last_30_days_whatever_it_asks()
    {
        await db.ExecuteAsync("""
            INSERT INTO audit.entries (at, actor, service, action, target) VALUES
                (now() - interval '31 days', 'pg-roles-old', 'test', 'schedule.stop', 'schedule:1'),
                (now() - interval '1 day', 'pg-roles-young', 'test', 'schedule.stop', 'schedule:1')
            """);

        await AssertDeniedAsync(Webhooks, "SELECT count(*) FROM audit.entries");
        await AssertDeniedAsync(ResponseStore, "SELECT count(*) FROM audit.entries");
        await AssertDeniedAsync(CrewCaller, AuditRow);
        await AssertDeniedAsync(Webhooks, "SELECT audit.delete_expired(0, 1000)");

        Assert.Equal(1, await db.AsServiceAsync(Scheduler, "SELECT audit.delete_expired(0, 1000)"));
        Assert.Equal(1L, await db.AsServiceAsync(Scheduler, "SELECT count(*) FROM audit.entries WHERE actor LIKE 'pg-roles-%'"));
        Assert.Equal("pg-roles-young", await db.AsServiceAsync(Scheduler, "SELECT actor FROM audit.entries WHERE actor LIKE 'pg-roles-%'"));
    }

    [Fact]
    public async Task Provisioning_again_replaces_the_passwords_and_keeps_the_data()
    {
        await db.AddUsersAsync([("pg-roles-again", "context", null)]);
        await db.AsServiceAsync(ResponseStore,
            "INSERT INTO crew_responses (user_uid, response_data, run_id) VALUES ('pg-roles-again', '{}', gen_random_uuid())");
        var oldPassword = new NpgsqlConnectionStringBuilder(db.ConnectionString(ResponseStore)).Password;

        await db.ProvisionAsync();

        await using (var old = new NpgsqlConnection(db.ConnectionString(ResponseStore, oldPassword)))
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => old.OpenAsync());
            Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
        }

        Assert.Equal(1L, await db.AsServiceAsync(ResponseStore, "SELECT count(*) FROM crew_responses WHERE user_uid = 'pg-roles-again'"));
    }

    private async Task AssertDeniedAsync(string service, string sql)
    {
        var denied = await Assert.ThrowsAsync<PostgresException>(() => db.AsServiceAsync(service, sql));
        Assert.True(denied.SqlState == PostgresErrorCodes.InsufficientPrivilege, $"{db.Role(service)}: {sql} failed with {denied.SqlState} {denied.MessageText}, not a refusal");
    }
}
