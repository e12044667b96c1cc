#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildExampleApp } from './example-app.ts';

const app = new App();
buildExampleApp(app);
app.synth();
