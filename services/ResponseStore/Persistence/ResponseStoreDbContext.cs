using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace CrewPlatform.ResponseStore.Persistence;

public sealed class ResponseStoreDbContext(DbContextOptions<ResponseStoreDbContext> options) : DbContext(options)
{
    public const string HistorySchema = "response_store";

    /// <summary>The index behind the previous-answer lookup (built concurrently by its migration).</summary>
    public const string LatestPerEndpointIndex = "idx_crew_responses_user_uid_endpoint_created_at";

    private static readonly ValueConverter<DateTime, DateTime> UtcAsUnspecified = new(
        v => DateTime.SpecifyKind(v.Kind == DateTimeKind.Local ? v.ToUniversalTime() : v, DateTimeKind.Unspecified),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    public DbSet<CrewResponse> CrewResponses => Set<CrewResponse>();

    public DbSet<RunOrigin> RunOrigins => Set<RunOrigin>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<RunOrigin>(entity =>
        {
            entity.ToTable("run_origins", HistorySchema);
            entity.HasKey(e => e.RunId);
            entity.Property(e => e.Endpoint).HasMaxLength(40);
            entity.HasIndex(e => e.ScheduleId);
            entity.HasIndex(e => e.Endpoint);
        });

        modelBuilder.Entity<CrewResponse>(entity =>
        {
            // The table keeps the host application's name and shape (api-contract.md), so it lives in public.
            // Column names come from the snake_case convention (UsePlatformPostgres).
            entity.ToTable("crew_responses", "public");
            entity.HasKey(e => e.Id).HasName("PK_crew_responses"); // the first migration's name, kept
            entity.Property(e => e.Id).UseSerialColumn();
            entity.Property(e => e.UserUid).HasMaxLength(255).IsRequired();
            entity.Property(e => e.ResponseData).HasColumnType("jsonb").IsRequired();
            entity.Property(e => e.Cost).HasColumnType("numeric");
            entity.Property(e => e.Endpoint).HasMaxLength(40);

            // timestamp without time zone holding UTC: Npgsql reads it back as Unspecified, so mark it UTC
            // on the way out and strip the kind on the way in (Npgsql refuses a UTC DateTime for this type).
            entity.Property(e => e.CreatedAt)
                .HasColumnType("timestamp without time zone")
                .HasDefaultValueSql("(now() AT TIME ZONE 'utc')")
                .ValueGeneratedOnAdd()
                .HasConversion(UtcAsUnspecified);

            entity.HasIndex(e => e.UserUid).HasDatabaseName("idx_crew_responses_user_uid");
            // (created_at DESC, id DESC) is the list's order: the newest page, a date range and a keyset page (after=)
            // read the index in order and stop at the limit, with no sort.
            entity.HasIndex(e => new { e.CreatedAt, e.Id }).IsDescending().HasDatabaseName("idx_crew_responses_created_at");
            entity.HasIndex(e => new { e.UserUid, e.CreatedAt })
                .IsDescending(false, true)
                .HasDatabaseName("idx_crew_responses_user_uid_created_at");

            // "The latest answer of user U on endpoint E", which every stored answer looks up to compare itself with.
            entity.HasIndex(e => new { e.UserUid, e.Endpoint, e.CreatedAt, e.Id })
                .IsDescending(false, false, true, true)
                .HasDatabaseName(LatestPerEndpointIndex);

            // A run answers each user once: a redelivered CrewResponseReceived must not add a second row.
            entity.HasIndex(e => new { e.RunId, e.UserUid }).IsUnique().HasDatabaseName("ux_crew_responses_run_id_user_uid");
        });
    }
}
