using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.Webhooks.Persistence.Migrations
{
    /// <summary>
    /// <c>ix_deliveries_delivered_at</c>: delivered deliveries by when the receiver accepted them, so the run-history
    /// retention pass reads its oldest first without scanning every delivery. Written by hand and left out of the EF model
    /// (only the retention pass reads it). Built with CREATE INDEX CONCURRENTLY, which does not block the dispatcher and the
    /// consumers but cannot run inside a transaction (<c>suppressTransaction</c>); a build that failed half-way leaves an
    /// INVALID index, which the next start drops and builds again.
    /// </summary>
    [DbContext(typeof(WebhooksDbContext))]
    [Migration("20261204220000_DeliveryRetentionIndex")]
    public partial class DeliveryRetentionIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DO $$ BEGIN
                    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                               WHERE c.relname = 'ix_deliveries_delivered_at' AND c.relnamespace = 'webhooks'::regnamespace AND NOT i.indisvalid) THEN
                        DROP INDEX webhooks.ix_deliveries_delivered_at;
                    END IF;
                END $$;
                """, suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_deliveries_delivered_at ON webhooks.deliveries (delivered_at) WHERE next_attempt_at IS NULL;",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX IF EXISTS webhooks.ix_deliveries_delivered_at;");
        }
    }
}
