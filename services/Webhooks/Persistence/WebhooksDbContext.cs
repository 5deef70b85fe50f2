using CrewPlatform.ServiceDefaults;
using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.Webhooks.Persistence;

public sealed class WebhooksDbContext(DbContextOptions<WebhooksDbContext> options) : DbContext(options)
{
    public const string Schema = "webhooks";

    public DbSet<Subscription> Subscriptions => Set<Subscription>();

    public DbSet<WebhookDelivery> Deliveries => Set<WebhookDelivery>();

    public DbSet<DeliveryAttempt> DeliveryAttempts => Set<DeliveryAttempt>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);

        modelBuilder.Entity<Subscription>(entity =>
        {
            entity.ToTable("subscriptions");
            entity.Property(e => e.Url).HasMaxLength(2048);
            entity.Property(e => e.Segment).HasMaxLength(64);
            entity.Property(e => e.Secret).HasMaxLength(100);
            entity.Property(e => e.JsonPath).HasMaxLength(SqlJsonPath.MaxLength);
        });

        modelBuilder.Entity<WebhookDelivery>(entity =>
        {
            entity.ToTable("deliveries");
            entity.Ignore(e => e.WebhookId);
            entity.Property(e => e.EventId).HasMaxLength(200);
            entity.Property(e => e.EventType).HasMaxLength(64);
            entity.HasOne<Subscription>().WithMany().HasForeignKey(e => e.SubscriptionId).OnDelete(DeleteBehavior.Cascade);

            // The consumer's dedup: a redelivered event inserts nothing for a subscription that has it already.
            entity.HasIndex(e => new { e.SubscriptionId, e.EventId }).IsUnique();

            // The dispatcher's claim looks only at deliveries still due.
            entity.HasIndex(e => e.NextAttemptAt).HasFilter("next_attempt_at IS NOT NULL");
        });

        modelBuilder.Entity<DeliveryAttempt>(entity =>
        {
            entity.ToTable("delivery_attempts");
            entity.Property(e => e.Id).UseIdentityAlwaysColumn();
            entity.Property(e => e.Error).HasMaxLength(1000);
            entity.HasOne<WebhookDelivery>().WithMany().HasForeignKey(e => e.DeliveryId).OnDelete(DeleteBehavior.Cascade);
            entity.HasIndex(e => new { e.DeliveryId, e.Attempt });
        });
    }
}
