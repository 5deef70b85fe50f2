using CrewPlatform.CrewCaller;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPostgresDbContext<WebApplicationBuilder, CrewCallerDbContext>(CrewCallerDbContext.Schema);
builder.Services.AddCrewCaller(builder.Configuration);
builder.AddMessaging(x => x.AddCrewCallerConsumers());

var app = builder.Build();
app.MapDefaultEndpoints();
await app.RunWithMigrationsAsync<CrewCallerDbContext>(args);

public partial class Program;
