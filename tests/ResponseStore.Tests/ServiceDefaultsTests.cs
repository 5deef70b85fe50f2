using System.Net;
using System.Text.Json;

namespace CrewPlatform.ResponseStore.Tests;

public sealed class ServiceDefaultsTests(StartupMigratedResponseStoreApp app) : IClassFixture<StartupMigratedResponseStoreApp>
{
    [Fact]
    public async Task An_unknown_route_answers_404_in_the_error_envelope()
    {
        using var client = app.CreateClient();
        var response = await client.GetAsync("/api/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.False(body.RootElement.GetProperty("success").GetBoolean());
        Assert.Equal("Not found", body.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Liveness_answers_once_the_service_has_started()
    {
        using var client = app.CreateClient();
        var response = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Startup_migrations_create_crew_responses_and_keep_their_history_in_the_service_schema()
    {
        var columns = await app.ScalarAsync<string>(
            "SELECT string_agg(column_name || ':' || data_type || ':' || is_nullable, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'crew_responses'");
        Assert.Equal(
            "id:integer:NO,user_uid:character varying:NO,request_context:text:YES,request_goal:text:YES,response_data:jsonb:NO,created_at:timestamp without time zone:YES,run_id:uuid:YES,cost:numeric:YES,search_vector:tsvector:YES,endpoint:character varying:YES,previous_response_id:integer:YES,changed:boolean:YES",
            columns);
        Assert.Equal(6, await app.ScalarAsync<long>("SELECT count(*) FROM response_store.__ef_migrations_history")); // Initial, RunOrigins, CreatedAtIdIndex, CrewResponseCost, ContentSearch, AnswerChanges
        Assert.Equal(
            "FOREIGN KEY (user_uid) REFERENCES users(uid) ON DELETE CASCADE",
            await app.ScalarAsync<string>("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_crew_responses_users'"));
        Assert.Equal(
            "CREATE UNIQUE INDEX ux_crew_responses_run_id_user_uid ON public.crew_responses USING btree (run_id, user_uid)",
            await app.ScalarAsync<string>("SELECT indexdef FROM pg_indexes WHERE indexname = 'ux_crew_responses_run_id_user_uid'"));
        Assert.Equal(
            "CREATE INDEX idx_crew_responses_user_uid_created_at ON public.crew_responses USING btree (user_uid, created_at DESC)",
            await app.ScalarAsync<string>("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_crew_responses_user_uid_created_at'"));
        Assert.Equal(
            "CREATE INDEX idx_crew_responses_created_at ON public.crew_responses USING btree (created_at DESC, id DESC)",
            await app.ScalarAsync<string>("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_crew_responses_created_at'"));
        Assert.Equal(
            "CREATE INDEX idx_crew_responses_user_uid_endpoint_created_at ON public.crew_responses USING btree (user_uid, endpoint, created_at DESC, id DESC)",
            await app.ScalarAsync<string>("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_crew_responses_user_uid_endpoint_created_at'"));
        Assert.Equal(
            "CREATE INDEX idx_crew_responses_response_data_path ON public.crew_responses USING gin (response_data jsonb_path_ops)",
            await app.ScalarAsync<string>("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_crew_responses_response_data_path'"));
        Assert.Equal(
            "CREATE INDEX idx_crew_responses_search_vector ON public.crew_responses USING gin (search_vector)",
            await app.ScalarAsync<string>("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_crew_responses_search_vector'"));
        Assert.Equal(
            "jsonb_to_tsvector('simple'::regconfig, response_data, '[\"string\"]'::jsonb)",
            await app.ScalarAsync<string>(
                "SELECT generation_expression FROM information_schema.columns WHERE table_name = 'crew_responses' AND column_name = 'search_vector' AND is_generated = 'ALWAYS'"));
        Assert.Equal(0, await app.ScalarAsync<long>("SELECT count(*) FROM pg_index WHERE indrelid = 'public.crew_responses'::regclass AND NOT indisvalid"));
    }
}
