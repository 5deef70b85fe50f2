using System.Text.Json;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// The wiring every CrewPlatform service shares (after eShop's ServiceDefaults): logs, telemetry, health,
/// the error envelope, MassTransit over RabbitMQ and PostgreSQL. A service's Program.cs adds its own parts only.
/// </summary>
public static class ServiceDefaultsExtensions
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    /// <summary>JSON console logs, OpenTelemetry, the liveness check and the error envelope for unhandled errors.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(options =>
        {
            options.UseUtcTimestamp = true;
            options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });

        // Per-request lines from HttpClient (four per crew call) and EF (one per command) cost more CPU than the call
        // they describe; their warnings and errors still show.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        builder.AddOpenTelemetry();

        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);

        // Minimal APIs answer a malformed body with an exception we turn into the envelope, not an empty 400.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<EnvelopeExceptionHandler>();
        builder.Services.AddProblemDetails();

        // Each service describes its own API at /openapi/v1.json; the gateway's /docs page gathers them.
        builder.Services.AddPlatformOpenApi();
        return builder;
    }

    /// <summary>
    /// A service's settings the one way: bound from the top-level configuration keys (each property names its
    /// environment variable with <c>[ConfigurationKeyName]</c> and carries its default), checked with data annotations
    /// and <c>IValidatableObject</c> at startup, so a bad value stops the service with a message naming it.
    /// </summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IHostApplicationBuilder builder) where TOptions : class =>
        builder.Services.AddValidatedOptions<TOptions>(builder.Configuration);

    /// <inheritdoc cref="AddValidatedOptions{TOptions}(IHostApplicationBuilder)"/>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, IConfiguration configuration) where TOptions : class =>
        services.AddOptions<TOptions>()
            .Configure(options => WithoutBlankValues(configuration).Bind(options))
            .ValidateDataAnnotations()
            .ValidateOnStart();

    // A variable set to nothing (NAME= in an env file) means "not set": the property keeps its default.
    private static IConfiguration WithoutBlankValues(IConfiguration configuration) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(configuration.AsEnumerable().Where(pair => !string.IsNullOrWhiteSpace(pair.Value)))
            .Build();

    private static void AddOpenTelemetry(this IHostApplicationBuilder builder)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("MassTransit", "Npgsql", $"{PlatformMeters.Prefix}*")
                .AddPrometheusExporter());

        // Metrics are always scraped at /metrics. Spans are recorded, and pushed over OTLP with the metrics, only when
        // a collector is configured: recording spans nobody receives (MassTransit's, Npgsql's and HttpClient's, several
        // per user) cost CPU on every message.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.WithTracing(tracing => tracing
                    .AddSource(CrewTracing.SourceNames)
                    .AddSource("MassTransit")
                    .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal))
                    .AddHttpClientInstrumentation()
                    .AddNpgsql())
                .UseOtlpExporter();
        }
    }

    /// <summary>
    /// MassTransit over RabbitMQ (settings from the <c>RabbitMq</c> section), kebab-case queue names, endpoints
    /// from the registered consumers and their definitions. The bus counts as started only once its topology
    /// exists, so nothing published right after startup is lost.
    /// </summary>
    public static TBuilder AddMessaging<TBuilder>(
        this TBuilder builder,
        Action<IBusRegistrationConfigurator> configureConsumers,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configureBus = null)
        where TBuilder : IHostApplicationBuilder
    {
        var rabbit = RabbitMqSettings.From(builder.Configuration);
        builder.RefuseInProduction(DefaultSecrets.Refusal(RabbitMqSettings.PasswordKey, rabbit.Password, rabbit.Username));

        builder.Services.AddOptions<MassTransitHostOptions>().Configure(options =>
        {
            options.WaitUntilStarted = true;
            options.StartTimeout = TimeSpan.FromMinutes(2);
            options.StopTimeout = TimeSpan.FromSeconds(30);

            // A consumer still busy this long after a stop is cancelled and its message goes back to the queue.
            // CrewCaller raises it to its drain time; for the other services' short handlers a few seconds is plenty.
            options.ConsumerStopTimeout = TimeSpan.FromSeconds(10);
        });

        builder.Services.AddMassTransit(x =>
        {
            x.SetKebabCaseEndpointNameFormatter();
            x.ConfigureHealthCheckOptions(options =>
            {
                options.Name = "rabbitmq";
                options.Tags.Clear();
                options.Tags.Add(ReadyTag);
            });
            configureConsumers(x);
            x.AddConfigureEndpointsCallback((name, endpoint) =>
            {
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbitEndpoint)
                {
                    rabbitEndpoint.UsePlatformQueue();
                }
            });
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(rabbit.Host, (ushort)rabbit.Port, rabbit.VirtualHost, h =>
                {
                    h.Username(rabbit.Username);
                    h.Password(rabbit.Password);
                });
                configureBus?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        return builder;
    }

    /// <summary>
    /// Every consumer queue is a quorum queue: replicated on a RabbitMQ cluster, durable on a single node. Its consumer
    /// declares it; a sender (which uses <see cref="QueueAddress"/>) that declares it ahead does so with
    /// <see cref="PlatformQueueDeclaration"/>, which must stay the same declaration. The delivery limit for poison
    /// messages is <see cref="DeliveryLimitFilter"/>.
    /// </summary>
    public static void UsePlatformQueue(this IRabbitMqReceiveEndpointConfigurator endpoint)
    {
        endpoint.SetQuorumQueue();
        endpoint.UseFilter(new DeliveryLimitFilter());
    }

    /// <summary>
    /// Where to send a command for a consumer queue: the queue's own exchange, which its consumer's endpoint declares and
    /// binds. Not <c>queue:name</c>, which would make the sender declare the queue too, as a classic queue that clashes
    /// with the consumer's quorum queue. The consumer's service declares its queue when it starts, and the Scheduler
    /// declares the crew caller's queues at its own startup (<see cref="PlatformQueueDeclaration"/>), so a command sent
    /// before the consumer ever ran waits in its queue.
    /// </summary>
    public static Uri QueueAddress(string queueName) => new($"exchange:{queueName}");

    /// <summary>
    /// An <see cref="NpgsqlDataSource"/> for <c>ConnectionStrings:Postgres</c>, a readiness check on it and, when
    /// given, an EF Core context whose migrations history lives in the service's own schema (several services
    /// share one database; each owns its tables).
    /// </summary>
    public static TBuilder AddPostgres<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var connectionString = PostgresSettings.ConnectionString(builder.Configuration);
        builder.RefuseInProduction(DefaultSecrets.PostgresRefusal(PostgresSettings.ConnectionStringKey, connectionString));
        builder.Services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        // AspNetCore.HealthChecks.NpgSql: SELECT 1 over the NpgsqlDataSource registered above.
        builder.Services.AddHealthChecks().AddNpgSql(name: "postgres", tags: [ReadyTag]);
        return builder;
    }

    public static TBuilder AddPostgresDbContext<TBuilder, TContext>(this TBuilder builder, string historySchema)
        where TBuilder : IHostApplicationBuilder
        where TContext : DbContext
    {
        builder.AddPostgres();
        builder.Services.AddDbContext<TContext>((services, options) =>
            options.UsePlatformPostgres(services.GetRequiredService<NpgsqlDataSource>(), historySchema));
        return builder;
    }

    /// <summary>
    /// Npgsql with the migrations history table in the owning service's schema, and snake_case names for tables,
    /// columns, keys and indexes (EFCore.NamingConventions), so no model spells a column name by hand.
    /// </summary>
    public static DbContextOptionsBuilder UsePlatformPostgres(this DbContextOptionsBuilder options, NpgsqlDataSource dataSource, string historySchema) =>
        options.UseNpgsql(dataSource, npgsql => npgsql.MigrationsHistoryTable(MigrationsHistoryTable, historySchema))
            .UseSnakeCaseNamingConvention()
            .ReplaceService<IHistoryRepository, PlatformHistoryRepository>();

    /// <inheritdoc cref="UsePlatformPostgres(DbContextOptionsBuilder, NpgsqlDataSource, string)"/>
    public static DbContextOptionsBuilder UsePlatformPostgres(this DbContextOptionsBuilder options, string connectionString, string historySchema) =>
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsHistoryTable(MigrationsHistoryTable, historySchema))
            .UseSnakeCaseNamingConvention()
            .ReplaceService<IHistoryRepository, PlatformHistoryRepository>();

    private const string MigrationsHistoryTable = "__ef_migrations_history";

    /// <summary>
    /// Applies the context's pending migrations (retrying while the database is still starting), then runs the
    /// app, or stops right after migrating when started with <c>--migrate-only</c>.
    /// </summary>
    public static async Task RunWithMigrationsAsync<TContext>(this WebApplication app, string[] args) where TContext : DbContext
    {
        await app.Services.MigrateAsync<TContext>(app.Lifetime.ApplicationStopping);
        if (args.Contains("--migrate-only", StringComparer.Ordinal))
        {
            return;
        }

        await app.RunAsync();
    }

    public static async Task MigrateAsync<TContext>(this IServiceProvider services, CancellationToken cancellationToken = default)
        where TContext : DbContext
    {
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Migrations");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var scope = services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<TContext>();
                await using (await MigrationLock.TakeAsync(scope.ServiceProvider, db, cancellationToken))
                {
                    await db.Database.MigrateAsync(cancellationToken);
                }

                logger.LogInformation("Database migrations applied for {Context}", typeof(TContext).Name);
                return;
            }
            catch (NpgsqlException ex) when (attempt < 30 && ex.IsTransient)
            {
                logger.LogWarning("Database not reachable yet (attempt {Attempt}): {Reason}", attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
    }

    /// <summary>
    /// <c>/health/live</c> (the process answers), <c>/health/ready</c> (RabbitMQ and PostgreSQL answer), <c>/metrics</c>
    /// unless <paramref name="metrics"/> is false, the error envelope for unhandled exceptions and for requests no
    /// endpoint matched.
    /// </summary>
    /// <param name="metrics">False for the gateway, whose own port is public: it serves /metrics on a management port.</param>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, bool metrics = true)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages(async context =>
        {
            var response = context.HttpContext.Response;
            if (response.HasStarted || response.ContentLength > 0 || response.ContentType is not null)
            {
                return;
            }

            var message = response.StatusCode switch
            {
                StatusCodes.Status404NotFound => "Not found",
                StatusCodes.Status405MethodNotAllowed => "Method not allowed",
                StatusCodes.Status415UnsupportedMediaType => "Content-Type must be application/json",
                _ => "Request failed",
            };
            await response.WriteAsJsonAsync(new ErrorEnvelope(message));
        });

        // The one document by its literal path: a pattern with {documentName} answers any other name with a bare 404.
        app.MapOpenApi(PlatformOpenApi.DocumentPath);

        // Prometheus text format, on the service's own port and without a credential (the gateway proxies /api/*
        // only): reachable by the Prometheus that scrapes it, never to be published.
        if (metrics)
        {
            app.MapPrometheusScrapingEndpoint();
        }

        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
            ResponseWriter = WriteHealthJson,
        });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteHealthJson,
        });
        return app;
    }

    private static Task WriteHealthJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            // A failed check's exception message may name hosts or SQL: /health/ready says only what is not reachable.
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Exception is null ? e.Value.Description : $"{e.Key} is not reachable",
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
