using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.ResponseStore.Persistence.Migrations
{
    /// <summary>
    /// Search by content (<c>jsonPath</c> and <c>q</c> on the list): <c>search_vector</c>, a stored <c>tsvector</c> of
    /// every string in <c>response_data</c> (<c>jsonb_to_tsvector</c> with the <c>simple</c> configuration is immutable,
    /// so PostgreSQL keeps it up to date on every insert, the batch writer's included), and two GIN indexes: one on
    /// <c>response_data jsonb_path_ops</c> for <c>@@</c> path predicates, one on <c>search_vector</c> for full text.
    /// Written by hand: the column and its index stay out of the EF model, so that no read but a search fetches them.
    /// <para>
    /// What it costs on a big table: adding a stored generated column rewrites <c>crew_responses</c> under an ACCESS
    /// EXCLUSIVE lock, so reads and writes of the table wait until it is done (measured on 1,000,000 crew-shaped answers,
    /// 258 MB: 13 s, and the table grows by about the size of the answers again); run it at a quiet time. The indexes are
    /// built with CREATE INDEX CONCURRENTLY, which does not block writers but cannot run inside a transaction, so those two
    /// statements run outside the migration's transaction (<c>suppressTransaction</c>); each is another scan of the table
    /// (same table: 4 s and 46 MB for the path index, 10 s and 71 MB for the text index). Every statement can run again:
    /// if a concurrent build fails it leaves an INVALID index, which the next start drops and builds again.
    /// </para>
    /// </summary>
    public partial class ContentSearch : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE public.crew_responses ADD COLUMN IF NOT EXISTS search_vector tsvector
                    GENERATED ALWAYS AS (jsonb_to_tsvector('simple'::regconfig, response_data, '["string"]'::jsonb)) STORED;
                """);

            foreach (var (name, definition) in Indexes)
            {
                // A build that failed half-way left an invalid index of this name: IF NOT EXISTS would keep it.
                migrationBuilder.Sql($"""
                    DO $$ BEGIN
                        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                                   WHERE c.relname = '{name}' AND c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid) THEN
                            DROP INDEX public.{name};
                        END IF;
                    END $$;
                    """, suppressTransaction: true);
                migrationBuilder.Sql(
                    $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON public.crew_responses USING gin ({definition});",
                    suppressTransaction: true);
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var (name, _) in Indexes)
            {
                migrationBuilder.Sql($"DROP INDEX IF EXISTS public.{name};");
            }

            migrationBuilder.Sql("ALTER TABLE public.crew_responses DROP COLUMN IF EXISTS search_vector;");
        }

        private static readonly (string Name, string Definition)[] Indexes =
        [
            ("idx_crew_responses_response_data_path", "response_data jsonb_path_ops"),
            ("idx_crew_responses_search_vector", "search_vector"),
        ];
    }
}
