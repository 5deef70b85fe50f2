using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Migrations.Internal;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// The migrations history table as every existing database has it (<c>"MigrationId"</c>, <c>"ProductVersion"</c>):
/// the snake_case convention would otherwise rename its columns too and EF could no longer read which migrations were
/// applied (EFCore.NamingConventions issue #1). Npgsql's repository is internal API, but it is the only hook.
/// </summary>
#pragma warning disable EF1001
internal sealed class PlatformHistoryRepository(HistoryRepositoryDependencies dependencies) : NpgsqlHistoryRepository(dependencies)
{
    protected override void ConfigureTable(EntityTypeBuilder<HistoryRow> history)
    {
        base.ConfigureTable(history);
        history.HasKey(h => h.MigrationId).HasName("PK_" + TableName);
        history.Property(h => h.MigrationId).HasColumnName(nameof(HistoryRow.MigrationId));
        history.Property(h => h.ProductVersion).HasColumnName(nameof(HistoryRow.ProductVersion));
    }
}
#pragma warning restore EF1001
