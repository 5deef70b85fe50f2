using CrewPlatform.ResponseStore;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddResponseStore();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapResponseStore();
await app.RunWithMigrationsAsync<ResponseStoreDbContext>(args);

public partial class Program;
