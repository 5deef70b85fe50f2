using System.Text.Json;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Xunit.Abstractions;

namespace CrewPlatform.ApiFuzz;

/// <summary>
/// The shared defaults alone, under endpoints that bind their input the typed way (query records, JSON bodies, route
/// constraints) and hand it to PostgreSQL: what a binding failure, a JSON too deep, a NUL PostgreSQL refuses or a lone
/// surrogate Npgsql cannot encode becomes, whichever service's endpoint it happens in.
/// </summary>
public sealed class TypedBindingTests(TypedBindingApp app, ITestOutputHelper output) : IClassFixture<TypedBindingApp>
{
    [Fact]
    public async Task Typed_binding_failures_and_values_postgres_refuses_answer_4xx_in_the_envelope()
    {
        using var client = app.Server.CreateClient();
        var operations = ApiOperations.Read(await client.GetStringAsync("/openapi/v1.json"));
        Assert.Contains(operations, o => o.BodyFields.Count > 0);
        Assert.Contains(operations, o => o.QueryParameters.Count > 0);

        var requests = new FuzzRequestGenerator(new ValidInputs("probe-user", [1, 2, 3], Guid.Empty, Guid.Empty), FuzzStack.Seed).Generate(operations);
        var outcomes = await FuzzRunner.RunAsync(app.Server, requests);

        var summary = FuzzRunner.Summary("typed binding", outcomes, FuzzStack.Seed);
        output.WriteLine(summary);
        Assert.True(outcomes.All(o => o.Problem is null), summary + Environment.NewLine + FuzzRunner.Offenders(outcomes));
    }

    [Theory]
    [InlineData("""{"text":"a\u0000b"}""", "Request contains a value that cannot be stored")]
    [InlineData("""{"data":{"k":"a\u0000b"}}""", "Request contains a value that cannot be stored")]
    [InlineData("""{"text":"\ud800"}""", null)]
    public async Task A_value_postgres_or_npgsql_refuses_is_a_400_not_a_500(string json, string? error)
    {
        using var client = app.Server.CreateClient();
        using var response = await client.PostAsync("/api/probe", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == System.Net.HttpStatusCode.BadRequest, $"{json} answered {(int)response.StatusCode}: {body}");
        Assert.Null(FuzzRunner.Judge(400, body));
        if (error is not null)
        {
            Assert.Equal(error, JsonDocument.Parse(body).RootElement.GetProperty("error").GetString());
        }
    }
}

/// <summary>A service made of the shared defaults and typed-binding endpoints over this fixture's own database.</summary>
public sealed class TypedBindingApp : RealInfrastructure
{
    private WebApplication? app;

    public TestServer Server => app!.GetTestServer();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        // Development, as WebApplicationFactory runs: Production refuses the fixture's local password.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Development });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = PostgresConnectionString,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddServiceDefaults();
        builder.AddPostgres();
        app = builder.Build();
        app.MapDefaultEndpoints();

        var api = app.MapGroup("/api/probe");
        api.MapGet("/", async ([AsParameters] ProbeQuery query, NpgsqlDataSource db, CancellationToken cancellationToken) =>
            ApiResults.Ok(await RoundTripAsync(db, query.Text, query.From, query.Limit, null, cancellationToken)));
        api.MapPost("/", async (ProbeBody body, NpgsqlDataSource db, CancellationToken cancellationToken) =>
            ApiResults.Ok(await RoundTripAsync(db, body.Text, body.When, body.Count, body.Data, cancellationToken)));
        api.MapGet("/{id:int}", (int id) => ApiResults.Ok(new { id }));
        api.MapDelete("/{id}", (int id) => id > 0 ? ApiResults.Message("Deleted") : ApiResults.BadRequest("Invalid ID"));
        await app.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    /// <summary>Every bound value goes through PostgreSQL as a parameter, as a service stores it.</summary>
    private static async Task<string?> RoundTripAsync(
        NpgsqlDataSource db, string? text, DateTimeOffset? when, int? count, JsonElement? data, CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("SELECT concat($1::text, $2::timestamptz, $3::int, $4::jsonb)");
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)text ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)when?.ToUniversalTime() ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)count ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)data?.GetRawText() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb });
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    public sealed record ProbeQuery(string? Text, DateTimeOffset? From, int? Limit);

    public sealed record ProbeBody(string? Text, DateTimeOffset? When, int? Count, JsonElement? Data);
}
