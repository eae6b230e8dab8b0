using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace ApprovalStudio.Web.Infrastructure.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class TaskVotes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "TallyJson",
                table: "Tasks",
                type: "text",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "TaskVotes",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ResId = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    UserId = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    Decision = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Comment = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: true),
                    Channel = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Groups = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    At = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_TaskVotes", x => x.Id);
                    table.ForeignKey(
                        name: "FK_TaskVotes_Tasks_ResId",
                        column: x => x.ResId,
                        principalTable: "Tasks",
                        principalColumn: "ResId",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Audit_ExecutionId_Action",
                table: "Audit",
                columns: new[] { "ExecutionId", "Action" });

            migrationBuilder.CreateIndex(
                name: "IX_TaskVotes_ResId_UserId",
                table: "TaskVotes",
                columns: new[] { "ResId", "UserId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_TaskVotes_UserId_At",
                table: "TaskVotes",
                columns: new[] { "UserId", "At" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "TaskVotes");

            migrationBuilder.DropIndex(
                name: "IX_Audit_ExecutionId_Action",
                table: "Audit");

            migrationBuilder.DropColumn(
                name: "TallyJson",
                table: "Tasks");
        }
    }
}
