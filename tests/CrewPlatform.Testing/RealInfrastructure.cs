using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrewPlatform.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit;

namespace CrewPlatform.Testing;

/// <summary>
/// A private slice of the real servers for one test class (or collection): its own PostgreSQL database, holding
/// the host application's <c>users</c> table and the <see cref="MigratedSchemas"/> it asks for, and its own RabbitMQ
/// virtual host. Both are removed afterwards, so durable queues and rows never leak from one test into another or from
/// one run into the next.
/// The servers come from <c>scripts/infra.sh up</c>; when they do not answer, the test fails and says so.
/// </summary>
public class RealInfrastructure : IAsyncLifetime
{
    private const string StartHint = "Start the servers with `scripts/infra.sh up`.";

    private readonly string baseConnectionString =
        Environment.GetEnvironmentVariable("ConnectionStrings__Postgres") is { Length: > 0 } cs ? cs : PostgresSettings.DefaultConnectionString;

    private readonly RabbitMqSettings baseRabbit = new()
    {
        Host = Environment.GetEnvironmentVariable("RabbitMq__Host") ?? "127.0.0.1",
        Port = int.TryParse(Environment.GetEnvironmentVariable("RabbitMq__Port"), out var port) ? port : 5672,
        Username = Environment.GetEnvironmentVariable("RabbitMq__Username") ?? "guest",
        Password = Environment.GetEnvironmentVariable("RabbitMq__Password") ?? "guest",
    };

    private readonly Uri managementApi = new(Environment.GetEnvironmentVariable("RabbitMq__ManagementUrl") ?? "http://127.0.0.1:15672/api/");

    /// <summary>The RabbitMQ management HTTP API (ending in <c>/api/</c>), which <see cref="ManagementClient"/> calls.</summary>
    public Uri ManagementApi => managementApi;

    public string Name { get; } = $"crewtest_{Guid.NewGuid():N}"[..24];

    /// <summary>Connection string of this fixture's own database.</summary>
    public string PostgresConnectionString { get; private set; } = "";

    /// <summary>RabbitMQ settings pointing at this fixture's own virtual host.</summary>
    public RabbitMqSettings RabbitMq { get; private set; } = new();

    /// <summary>The configuration a service under test needs to use this fixture's database and virtual host.</summary>
    public IReadOnlyDictionary<string, string?> ServiceSettings => new Dictionary<string, string?>
    {
        ["ConnectionStrings:Postgres"] = PostgresConnectionString,
        ["RabbitMq:Host"] = RabbitMq.Host,
        ["RabbitMq:Port"] = RabbitMq.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["RabbitMq:VirtualHost"] = RabbitMq.VirtualHost,
        ["RabbitMq:Username"] = RabbitMq.Username,
        ["RabbitMq:Password"] = RabbitMq.Password,
    };

    /// <summary>The same settings as environment variables, for a service started as a separate process.</summary>
    public IReadOnlyDictionary<string, string?> ServiceEnvironment =>
        ServiceSettings.ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);

    /// <summary>
    /// The services' schemas this fixture's database starts with, migrated: the database is a copy of a template
    /// (<see cref="DatabaseTemplates"/>) holding them and the users table. None by default: the users table alone.
    /// </summary>
    protected virtual IReadOnlyList<ServiceSchema> MigratedSchemas => [];

    public virtual async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        await CreateVirtualHostAsync();
    }

    public virtual async Task DisposeAsync()
    {
        await DeleteVirtualHostAsync();
        await DropDatabaseAsync();
    }

    public NpgsqlConnection OpenConnection()
    {
        var connection = new NpgsqlConnection(PostgresConnectionString);
        connection.Open();
        return connection;
    }

    public async Task<T?> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)Convert.ChangeType(result, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Adds a user of a fresh uid (<paramref name="prefix"/>-…) with a context and a goal; its uid.</summary>
    public async Task<string> AddNewUserAsync(string prefix = "user")
    {
        var uid = $"{prefix}-{Guid.NewGuid():N}";
        await AddUsersAsync([(uid, "context", "goal")]);
        return uid;
    }

    /// <summary>Inserts users into the host application's table with one COPY.</summary>
    public async Task AddUsersAsync(IEnumerable<(string Uid, string? Context, string? Goal)> users)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var writer = await connection.BeginBinaryImportAsync("COPY users (uid, context, goal) FROM STDIN (FORMAT BINARY)");
        foreach (var (uid, context, goal) in users)
        {
            await writer.StartRowAsync();
            await writer.WriteAsync(uid);
            await writer.WriteAsync(context);
            await writer.WriteAsync(goal);
        }

        await writer.CompleteAsync();
    }

    private async Task CreateDatabaseAsync()
    {
        try
        {
            var template = await DatabaseTemplates.GetAsync(baseConnectionString, MigratedSchemas);
            await using var admin = new NpgsqlConnection(baseConnectionString);
            await admin.OpenAsync();

            // A copy fails while anything is connected to its template: a backend of another test process that just
            // built it may still be on its way out.
            await ExecuteUntilDoneAsync(
                admin, $"CREATE DATABASE \"{Name}\" TEMPLATE \"{template}\"", $"database {Name} is copied from {template}",
                PostgresErrorCodes.ObjectInUse);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw new InvalidOperationException($"PostgreSQL is not reachable ({Redact(baseConnectionString)}): {ex.Message}. {StartHint}", ex);
        }

        PostgresConnectionString = new NpgsqlConnectionStringBuilder(baseConnectionString) { Database = Name }.ConnectionString;
    }

    private async Task DropDatabaseAsync()
    {
        if (PostgresConnectionString.Length == 0)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(baseConnectionString);
        await admin.OpenAsync();

        // FORCE may not end a backend of another role: an autovacuum worker that just started on this busy database
        // refuses (42501) until it finishes, which takes a moment.
        await ExecuteUntilDoneAsync(
            admin, $"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", $"database {Name} is dropped",
            PostgresErrorCodes.InsufficientPrivilege, PostgresErrorCodes.ObjectInUse);
    }

    /// <summary>Runs a statement again, for up to 30 s, while it fails with one of <paramref name="passing"/>: states that clear by themselves.</summary>
    private static Task ExecuteUntilDoneAsync(NpgsqlConnection admin, string sql, string description, params string[] passing) =>
        Eventually.HoldsAsync(
            async () =>
            {
                try
                {
                    await using var command = new NpgsqlCommand(sql, admin);
                    await command.ExecuteNonQueryAsync();
                    return true;
                }
                catch (PostgresException ex) when (passing.Contains(ex.SqlState))
                {
                    return false;
                }
            },
            description,
            TimeSpan.FromSeconds(30));

    /// <summary>A client of the management API, logged in as the fixture's broker administrator (guest by default).</summary>
    public HttpClient ManagementClient()
    {
        var client = new HttpClient { BaseAddress = managementApi, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{baseRabbit.Username}:{baseRabbit.Password}")));
        return client;
    }

    private async Task CreateVirtualHostAsync()
    {
        using var client = ManagementClient();
        try
        {
            (await client.PutAsync($"vhosts/{Name}", null)).EnsureSuccessStatusCode();
            (await client.PutAsJsonAsync($"permissions/{Name}/{Uri.EscapeDataString(baseRabbit.Username)}",
                new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        }
        catch (HttpRequestException ex)
        {
            throw new InvalidOperationException($"RabbitMQ management API is not reachable at {managementApi}: {ex.Message}. {StartHint}", ex);
        }

        RabbitMq = new RabbitMqSettings
        {
            Host = baseRabbit.Host,
            Port = baseRabbit.Port,
            Username = baseRabbit.Username,
            Password = baseRabbit.Password,
            VirtualHost = Name,
        };
    }

    private async Task DeleteVirtualHostAsync()
    {
        if (RabbitMq.VirtualHost != Name)
        {
            return;
        }

        using var client = ManagementClient();
        await client.DeleteAsync($"vhosts/{Name}");
    }

    /// <summary>
    /// Messages acknowledged on one of this fixture's queues so far. The management API refreshes its statistics every
    /// few seconds, so wait until the count has grown rather than reading it once.
    /// </summary>
    public async Task<long> QueueAckCountAsync(string queue)
    {
        using var client = ManagementClient();
        using var json = JsonDocument.Parse(await client.GetStringAsync($"queues/{Uri.EscapeDataString(Name)}/{queue}"));
        return json.RootElement.TryGetProperty("message_stats", out var stats) && stats.TryGetProperty("ack", out var ack) ? ack.GetInt64() : 0;
    }

    /// <summary>
    /// The bodies of up to <paramref name="count"/> messages of one of this fixture's queues, read without taking them off
    /// the queue (unlike the message counters, this does not lag); empty when the queue does not exist.
    /// </summary>
    public async Task<IReadOnlyList<string>> PeekQueueAsync(string queue, int count = 100)
    {
        using var client = ManagementClient();
        using var response = await client.PostAsJsonAsync(
            $"queues/{Uri.EscapeDataString(Name)}/{queue}/get",
            new { count, ackmode = "ack_requeue_true", encoding = "auto" });
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return [];
        }

        response.EnsureSuccessStatusCode();
        var messages = await response.Content.ReadFromJsonAsync<List<PeekedMessage>>() ?? [];
        return messages.Select(m => m.Payload).ToList();
    }

    private sealed record PeekedMessage(string Payload);

    /// <summary>The queues of this fixture's virtual host, as the RabbitMQ management API lists them.</summary>
    public async Task<IReadOnlyList<string>> QueueNamesAsync()
    {
        using var client = ManagementClient();
        var queues = await client.GetFromJsonAsync<List<QueueInfo>>($"queues/{Name}") ?? [];
        return queues.Select(q => q.Name).ToList();
    }

    private sealed record QueueInfo(string Name);

    private static readonly JsonSerializerOptions ManagementJson = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// One queue of this fixture's virtual host as the management API describes it, null when it does not exist. Its
    /// message counts lag by seconds: wait until they hold rather than reading them once.
    /// </summary>
    public async Task<BrokerQueue?> QueueAsync(string queue)
    {
        using var client = ManagementClient();
        using var response = await client.GetAsync($"queues/{Uri.EscapeDataString(Name)}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<BrokerQueue>(ManagementJson);
    }

    /// <summary>
    /// Checks that <paramref name="queue"/> is declared as every platform queue is: the durable quorum queue with no other
    /// argument, a durable fanout exchange of its name without arguments, and one binding between them, with an empty
    /// routing key and no arguments (what MassTransit's receive endpoint and <c>PlatformQueueDeclaration</c> both declare).
    /// </summary>
    public async Task AssertPlatformQueueAsync(string queue)
    {
        var declared = await QueueAsync(queue);
        Assert.NotNull(declared);
        Assert.Equal((true, false, false), (declared.Durable, declared.AutoDelete, declared.Exclusive));
        Assert.Equal("x-queue-type=quorum", string.Join(",", declared.Arguments.Select(a => $"{a.Key}={a.Value}")));

        using var client = ManagementClient();
        var vhost = Uri.EscapeDataString(Name);
        var exchange = await client.GetFromJsonAsync<BrokerExchange>($"exchanges/{vhost}/{Uri.EscapeDataString(queue)}", ManagementJson);
        Assert.Equal(("fanout", true, false, false, 0), (exchange!.Type, exchange.Durable, exchange.AutoDelete, exchange.Internal, exchange.Arguments.Count));

        var bindings = await client.GetFromJsonAsync<List<BrokerBinding>>($"bindings/{vhost}/e/{Uri.EscapeDataString(queue)}/q/{Uri.EscapeDataString(queue)}", ManagementJson);
        var binding = Assert.Single(bindings!);
        Assert.Equal(("", 0), (binding.RoutingKey, binding.Arguments.Count));
    }

    /// <summary>A queue as the management API describes it (snake_case fields).</summary>
    public sealed record BrokerQueue(
        string Name, bool Durable, bool AutoDelete, bool Exclusive, Dictionary<string, JsonElement> Arguments, long MessagesReady, int Consumers);

    private sealed record BrokerExchange(string Type, bool Durable, bool AutoDelete, bool Internal, Dictionary<string, JsonElement> Arguments);

    private sealed record BrokerBinding(string RoutingKey, Dictionary<string, JsonElement> Arguments);

    /// <summary>Path of a file in this repository, found by walking up from the test binaries to CrewPlatform.sln.</summary>
    public static string RepositoryFile(string relativePath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CrewPlatform.sln")))
            {
                return Path.Combine(dir.FullName, relativePath);
            }
        }

        throw new FileNotFoundException($"CrewPlatform.sln not found above {AppContext.BaseDirectory}");
    }

    private static string Redact(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Password = null }.ConnectionString;
}
