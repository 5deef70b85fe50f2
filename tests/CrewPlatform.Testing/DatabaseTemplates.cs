using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using CrewPlatform.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CrewPlatform.Testing;

/// <summary>A service's schema as its EF migrations make it, for a fixture's database to start with.</summary>
public sealed class ServiceSchema
{
    private readonly Func<string, Task> migrate;
    private readonly Func<string> script;

    private ServiceSchema(string historySchema, Func<string, Task> migrate, Func<string> script)
    {
        HistorySchema = historySchema;
        this.migrate = migrate;
        this.script = script;
    }

    /// <summary>The schema holding the service's migrations history.</summary>
    public string HistorySchema { get; }

    /// <summary>The migrations of <typeparamref name="TContext"/>, configured as the service configures them.</summary>
    public static ServiceSchema Of<TContext>(string historySchema) where TContext : DbContext
    {
        ServiceProvider Services(string connectionString) => new ServiceCollection()
            .AddLogging()
            .AddDbContext<TContext>(options => options.UsePlatformPostgres(connectionString, historySchema))
            .BuildServiceProvider();

        return new ServiceSchema(
            historySchema,
            async connectionString =>
            {
                await using var services = Services(connectionString);
                await services.MigrateAsync<TContext>();
            },
            () =>
            {
                using var services = Services("Host=localhost");
                using var scope = services.CreateScope();
                return scope.ServiceProvider.GetRequiredService<TContext>().GetService<IMigrator>().GenerateScript();
            });
    }

    /// <summary>Applies the migrations to a database.</summary>
    public Task MigrateAsync(string connectionString) => migrate(connectionString);

    /// <summary>The SQL every migration runs, made without a connection: it changes when a migration does.</summary>
    public string Script() => script();
}

/// <summary>
/// Migrated template databases: one per set of service schemas and version of their migrations, named
/// <c>crewplatform_tpl_&lt;hash&gt;</c> (the hash of the users table's and the audit trail's SQL and every migration's SQL), so a changed
/// migration gets a new template. The first fixture that needs one builds it under a PostgreSQL advisory lock (several
/// test processes may race for it) and every fixture copies it with <c>CREATE DATABASE ... TEMPLATE</c>. A template
/// refuses connections once built, as a copy needs it idle. Templates are kept for the next run.
/// </summary>
public static class DatabaseTemplates
{
    private const string Prefix = "crewplatform_tpl_";

    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Built = new();

    /// <summary>
    /// The name of the template with these schemas on the server of <paramref name="adminConnectionString"/>, built
    /// when missing; once per test process, unless it failed (the next fixture tries again).
    /// </summary>
    public static async Task<string> GetAsync(string adminConnectionString, IReadOnlyList<ServiceSchema> schemas)
    {
        var key = $"{adminConnectionString}|{string.Join(',', schemas.Select(s => s.HistorySchema))}";
        var build = Built.GetOrAdd(key, _ => new Lazy<Task<string>>(() => Task.Run(() => BuildAsync(adminConnectionString, schemas))));
        try
        {
            return await build.Value;
        }
        catch
        {
            Built.TryRemove(KeyValuePair.Create(key, build));
            throw;
        }
    }

    private static async Task<string> BuildAsync(string adminConnectionString, IReadOnlyList<ServiceSchema> schemas)
    {
        var usersTable = await File.ReadAllTextAsync(RealInfrastructure.RepositoryFile("deploy/postgres/init/01-users.sql"));
        var auditTrail = await File.ReadAllTextAsync(RealInfrastructure.RepositoryFile("deploy/postgres/audit.sql"));
        var content = new StringBuilder(usersTable).Append('\n').Append(auditTrail);
        foreach (var schema in schemas)
        {
            content.Append('\n').Append(schema.HistorySchema).Append('\n').Append(schema.Script());
        }

        var name = Prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content.ToString())))[..16];

        await using var admin = new NpgsqlConnection(adminConnectionString);
        await admin.OpenAsync();
        if (await ExistsAsync(admin, name))
        {
            return name;
        }

        await ExecuteAsync(admin, $"SELECT pg_advisory_lock(hashtext('{name}'))");
        try
        {
            if (await ExistsAsync(admin, name))
            {
                return name;
            }

            // Built under another name and renamed when complete, so a template that exists is a whole one.
            var building = $"{name}_building";
            await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)");
            await ExecuteAsync(admin, $"CREATE DATABASE \"{building}\"");

            // No pooling: no connection may stay open on a database that is renamed, then copied.
            var connectionString = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = building, Pooling = false }.ConnectionString;
            await using (var connection = new NpgsqlConnection(connectionString))
            {
                await connection.OpenAsync();
                await ExecuteAsync(connection, usersTable);
                await ExecuteAsync(connection, auditTrail);
            }

            foreach (var schema in schemas)
            {
                await schema.MigrateAsync(connectionString);
            }

            await ExecuteAsync(admin, $"ALTER DATABASE \"{building}\" RENAME TO \"{name}\"");
            await ExecuteAsync(admin, $"ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false");
            var described = schemas.Count == 0 ? "the users table and the audit trail" : $"the users table, the audit trail and the schemas {string.Join(", ", schemas.Select(s => s.HistorySchema))}";
            await ExecuteAsync(admin, $"COMMENT ON DATABASE \"{name}\" IS 'CrewPlatform tests: template with {described}'");
            return name;
        }
        finally
        {
            await ExecuteAsync(admin, $"SELECT pg_advisory_unlock(hashtext('{name}'))");
        }
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection admin, string name)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", admin);
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
