using CrewPlatform.ResponseStore.Apis;
using CrewPlatform.ResponseStore.Consumers;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPostgresDbContext<WebApplicationBuilder, ResponseStoreDbContext>(ResponseStoreDbContext.HistorySchema);
builder.AddMessaging(x => x.AddResponseStoreConsumers());

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapCrewResponsesApi();
await app.RunWithMigrationsAsync<ResponseStoreDbContext>(args);

public partial class Program;
