using System.Security.Cryptography;
using CrewPlatform.Testing;
using Npgsql;

namespace CrewPlatform.Deploy.Tests;

/// <summary>
/// This fixture's database provisioned by <c>deploy/postgres/provision.sh</c>, exactly as compose and infra.sh run it,
/// with role names of its own (roles belong to the whole server), then migrated by each service's own build
/// (<c>--migrate-only</c>) logged in as that service's role. The roles are dropped with the database.
/// </summary>
public sealed class ProvisionedDatabase : RealInfrastructure
{
    /// <summary>Service (as the scripts name it) to the schema it owns.</summary>
    public static readonly IReadOnlyDictionary<string, string> Schemas = new Dictionary<string, string>
    {
        ["SCHEDULER"] = "scheduler",
        ["CREW_CALLER"] = "crew_caller",
        ["RESPONSE_STORE"] = "response_store",
        ["WEBHOOKS"] = "webhooks",
    };

    private static readonly Dictionary<string, string> ServiceBuilds = new()
    {
        ["SCHEDULER"] = "Scheduler",
        ["CREW_CALLER"] = "CrewCaller",
        ["RESPONSE_STORE"] = "ResponseStore",
        ["WEBHOOKS"] = "Webhooks",
    };

    private readonly Dictionary<string, string> passwords = [];

    /// <summary>The role of a service (<c>SCHEDULER</c>, <c>CREW_CALLER</c>, <c>RESPONSE_STORE</c>) in this fixture.</summary>
    public string Role(string service) => $"{Name}_{Schemas[service]}";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await ProvisionAsync();
        foreach (var (service, build) in ServiceBuilds)
        {
            var (exitCode, output) = await ServiceBinary.RunAsync(build, new Dictionary<string, string?>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__Postgres"] = ConnectionString(service),
                ["RabbitMq__Password"] = NewPassword(), // not used by --migrate-only, but Production refuses guest
            }, "--migrate-only");
            Assert.True(exitCode == 0, $"{build} --migrate-only as {Role(service)} exited {exitCode}:\n{output}");
        }
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await using var admin = new NpgsqlConnection(AdminConnectionString("postgres"));
        await admin.OpenAsync();
        foreach (var service in Schemas.Keys)
        {
            await using var drop = new NpgsqlCommand($"DROP ROLE IF EXISTS \"{Role(service)}\"", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Runs the provisioning (again), with new passwords for every role.</summary>
    public async Task ProvisionAsync()
    {
        var admin = new NpgsqlConnectionStringBuilder(PostgresConnectionString);
        var environment = new Dictionary<string, string?>
        {
            ["PGHOST"] = admin.Host,
            ["PGPORT"] = admin.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGUSER"] = admin.Username,
            ["PGPASSWORD"] = admin.Password,
            ["PGDATABASE"] = admin.Database,
        };
        foreach (var service in Schemas.Keys)
        {
            passwords[service] = NewPassword();
            environment[$"{service}_DB_USER"] = Role(service);
            environment[$"{service}_DB_PASSWORD"] = passwords[service];
        }

        var (exitCode, output) = await LocalStackScript.RunProcessAsync("bash", ["deploy/postgres/provision.sh"], environment);
        Assert.True(exitCode == 0, $"deploy/postgres/provision.sh exited {exitCode}:\n{output}");
    }

    /// <summary>A connection string to this fixture's database, logged in as a service's role, not pooled.</summary>
    public string ConnectionString(string service, string? password = null) =>
        new NpgsqlConnectionStringBuilder(PostgresConnectionString)
        {
            Username = Role(service),
            Password = password ?? passwords[service],
            Pooling = false,
        }.ConnectionString;

    /// <summary>Runs one statement as a service's role: its result, or the PostgreSQL error it got.</summary>
    public async Task<object?> AsServiceAsync(string service, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(service));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private string AdminConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(PostgresConnectionString) { Database = database }.ConnectionString;

    public static string NewPassword() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
}
