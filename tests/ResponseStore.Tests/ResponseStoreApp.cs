using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>
/// The ResponseStore service started in-process on this fixture's own PostgreSQL database, migrated from the start
/// (see <see cref="RealInfrastructure.MigratedSchemas"/>). Its RabbitMQ bus is replaced by MassTransit's in-memory test harness, so tests that do not need
/// the broker do not depend on it.
/// </summary>
public class ResponseStoreApp : RealInfrastructure
{
    /// <summary>The ResponseStore's schema and table, which every database of these tests starts with.</summary>
    public static readonly ServiceSchema Schema = ServiceSchema.Of<ResponseStoreDbContext>(ResponseStoreDbContext.HistorySchema);

    private ServiceApp<Program>? factory;

    public ServiceApp<Program> Factory => factory ?? throw new InvalidOperationException("Not initialised");

    /// <summary>False to keep the real RabbitMQ bus (this fixture's own virtual host).</summary>
    protected virtual bool UseTestHarness => true;

    public HttpClient CreateClient() => Factory.CreateClient();

    /// <summary>Settings of the service under test beyond the fixture's database and virtual host.</summary>
    protected virtual IReadOnlyDictionary<string, string?>? Settings => null;

    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [Schema];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        factory = new ServiceApp<Program>(this, Settings, overrideServices: UseTestHarness ? services => services.AddTestHarness() : null);

        // Starts the host: migrations run before it answers.
        _ = factory.Server;
    }

    public override async Task DisposeAsync()
    {
        if (factory is not null)
        {
            await factory.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}

/// <summary>The service over a database with the users table alone, which the service's own startup migrates.</summary>
public sealed class StartupMigratedResponseStoreApp : ResponseStoreApp
{
    protected override IReadOnlyList<ServiceSchema> MigratedSchemas => [];
}

/// <summary>Just this fixture's database, migrated, for tests that build their own service provider.</summary>
public sealed class MigratedDatabase : RealInfrastructure
{
    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [ResponseStoreApp.Schema];
}
