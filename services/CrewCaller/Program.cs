using CrewPlatform.CrewCaller;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddCrewCaller();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapCrewCaller();
await app.RunWithMigrationsAsync<CrewCallerDbContext>(args);

public partial class Program;
