CREATE TYPE "public"."membership_role" AS ENUM('owner', 'caregiver', 'vet');--> statement-breakpoint
CREATE TYPE "public"."medication_form" AS ENUM('tablet', 'capsule', 'liquid', 'injection', 'topical', 'drops', 'powder', 'other');--> statement-breakpoint
CREATE TYPE "public"."schedule_kind" AS ENUM('times_per_day', 'interval_hours', 'cron', 'as_needed');--> statement-breakpoint
CREATE TABLE "animals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"household_id" uuid NOT NULL,
	"name" text NOT NULL,
	"species" text NOT NULL,
	"breed" text,
	"birth_date" date,
	"weight_kg" numeric(7, 3),
	"notes" text,
	"archived_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "animals_weight_positive" CHECK ("animals"."weight_kg" is null or "animals"."weight_kg" > 0)
);
--> statement-breakpoint
CREATE TABLE "households" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "memberships" (
	"household_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" "membership_role" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "memberships_pkey" PRIMARY KEY("household_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "inventory" (
	"household_id" uuid NOT NULL,
	"medication_id" uuid NOT NULL,
	"quantity_on_hand" numeric(12, 3) DEFAULT '0' NOT NULL,
	"unit" text NOT NULL,
	"low_stock_threshold" numeric(12, 3),
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inventory_pkey" PRIMARY KEY("household_id","medication_id"),
	CONSTRAINT "inventory_quantity_non_negative" CHECK ("inventory"."quantity_on_hand" >= 0)
);
--> statement-breakpoint
CREATE TABLE "medications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"household_id" uuid,
	"name" text NOT NULL,
	"form" "medication_form" NOT NULL,
	"strength" numeric(12, 4),
	"strength_unit" text,
	"notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "medications_scope_product_unique" UNIQUE NULLS NOT DISTINCT("household_id","name","form","strength","strength_unit"),
	CONSTRAINT "medications_strength_with_unit" CHECK (("medications"."strength" is null) = ("medications"."strength_unit" is null)),
	CONSTRAINT "medications_strength_positive" CHECK ("medications"."strength" is null or "medications"."strength" > 0)
);
--> statement-breakpoint
CREATE TABLE "administrations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"regimen_id" uuid NOT NULL,
	"animal_id" uuid NOT NULL,
	"dose_amount" numeric(12, 4) NOT NULL,
	"dose_unit" text NOT NULL,
	"recorded_by" uuid,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"notes" text,
	"idempotency_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "administrations_idempotency_key_unique" UNIQUE("idempotency_key"),
	CONSTRAINT "administrations_dose_positive" CHECK ("administrations"."dose_amount" > 0),
	CONSTRAINT "administrations_idempotency_key_length" CHECK (length("administrations"."idempotency_key") between 8 and 200)
);
--> statement-breakpoint
CREATE TABLE "regimens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"animal_id" uuid NOT NULL,
	"medication_id" uuid NOT NULL,
	"dose_amount" numeric(12, 4) NOT NULL,
	"dose_unit" text NOT NULL,
	"schedule_kind" "schedule_kind" NOT NULL,
	"times_per_day" integer,
	"interval_hours" integer,
	"schedule_cron" text,
	"instructions" text,
	"starts_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ends_at" timestamp with time zone,
	"active" boolean DEFAULT true NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "regimens_id_animal_id_unique" UNIQUE("id","animal_id"),
	CONSTRAINT "regimens_dose_positive" CHECK ("regimens"."dose_amount" > 0),
	CONSTRAINT "regimens_ends_after_start" CHECK ("regimens"."ends_at" is null or "regimens"."ends_at" > "regimens"."starts_at"),
	CONSTRAINT "regimens_schedule_consistent" CHECK (case "regimens"."schedule_kind"
        when 'times_per_day' then "regimens"."times_per_day" between 1 and 24
        when 'interval_hours' then "regimens"."interval_hours" between 1 and 8760
        when 'cron' then "regimens"."schedule_cron" is not null and length("regimens"."schedule_cron") between 9 and 200
        else true end)
);
--> statement-breakpoint
CREATE TABLE "auth_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "auth_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"name" text NOT NULL,
	"password_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email_unique" UNIQUE("email"),
	CONSTRAINT "users_email_lowercase" CHECK ("users"."email" = lower("users"."email"))
);
--> statement-breakpoint
ALTER TABLE "animals" ADD CONSTRAINT "animals_household_id_households_id_fk" FOREIGN KEY ("household_id") REFERENCES "public"."households"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_household_id_households_id_fk" FOREIGN KEY ("household_id") REFERENCES "public"."households"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory" ADD CONSTRAINT "inventory_household_id_households_id_fk" FOREIGN KEY ("household_id") REFERENCES "public"."households"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory" ADD CONSTRAINT "inventory_medication_id_medications_id_fk" FOREIGN KEY ("medication_id") REFERENCES "public"."medications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medications" ADD CONSTRAINT "medications_household_id_households_id_fk" FOREIGN KEY ("household_id") REFERENCES "public"."households"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "administrations" ADD CONSTRAINT "administrations_animal_id_animals_id_fk" FOREIGN KEY ("animal_id") REFERENCES "public"."animals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "administrations" ADD CONSTRAINT "administrations_recorded_by_users_id_fk" FOREIGN KEY ("recorded_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "administrations" ADD CONSTRAINT "administrations_regimen_animal_fk" FOREIGN KEY ("regimen_id","animal_id") REFERENCES "public"."regimens"("id","animal_id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "regimens" ADD CONSTRAINT "regimens_animal_id_animals_id_fk" FOREIGN KEY ("animal_id") REFERENCES "public"."animals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "regimens" ADD CONSTRAINT "regimens_medication_id_medications_id_fk" FOREIGN KEY ("medication_id") REFERENCES "public"."medications"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "regimens" ADD CONSTRAINT "regimens_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth_tokens" ADD CONSTRAINT "auth_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "animals_household_id_idx" ON "animals" USING btree ("household_id");--> statement-breakpoint
CREATE INDEX "memberships_user_id_idx" ON "memberships" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "inventory_medication_id_idx" ON "inventory" USING btree ("medication_id");--> statement-breakpoint
CREATE INDEX "medications_household_id_idx" ON "medications" USING btree ("household_id");--> statement-breakpoint
CREATE INDEX "administrations_animal_id_recorded_at_idx" ON "administrations" USING btree ("animal_id","recorded_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "administrations_regimen_id_recorded_at_idx" ON "administrations" USING btree ("regimen_id","recorded_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "regimens_animal_id_active_idx" ON "regimens" USING btree ("animal_id") WHERE "regimens"."active";--> statement-breakpoint
CREATE INDEX "regimens_medication_id_idx" ON "regimens" USING btree ("medication_id");--> statement-breakpoint
CREATE INDEX "auth_tokens_user_id_idx" ON "auth_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "auth_tokens_expires_at_idx" ON "auth_tokens" USING btree ("expires_at");